#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include "common/go_pclntab.h"
#include "common/hmap.h"
#include "common/log.h"
#include "sensor/sensor.h"
#include "sensor/tls.h"

/* TLS_GO: a Go executable whose crypto/tls.(*Conn).Write is probed;
 * TLS_GO_BLIND: one where it could not be (no symbol table: stripped);
 * TLS_GO_OFF: one not probed because Go probing is turned off;
 * TLS_GO_OLD: one built by a toolchain older than the register ABI (Go
 * 1.17) or whose build info does not say (pre-1.18 layout): the probe
 * would read its arguments from the wrong place, so it is refused. */
/* TLS_GONE: a process that opened a TLS library no probe was on, and had
 * exited when the agent read the open: nothing of it can be probed now.
 * TLS_UNPROBED: one that maps a TLS library whose probe could not attach.
 * Both stick: a process is covered only when every TLS library it maps is
 * probed (curl maps libssl and, through libldap, libgnutls). */
enum tls_lib { TLS_NONE, TLS_OPENSSL, TLS_GNUTLS, TLS_OPENSSL_STATIC, TLS_GO, TLS_GO_BLIND, TLS_GO_OFF, TLS_GO_OLD,
	       TLS_GONE, TLS_UNPROBED };

static const char *const lib_names[] = { NULL, "openssl", "gnutls", "openssl (in the executable)", "go-tls", NULL, NULL,
					 NULL, NULL, NULL };

#define GO_TLS_WRITE "crypto/tls.(*Conn).Write"

/* A library or executable file we probe, and who uses it: when the last
 * user exits, its uprobes are detached (and attached again on a new user). */
#define TLS_FILE_MAX_USERS 4096

#define TLS_FILE_MAX_KEYS 256

struct tls_file {
	enum tls_lib lib;     /* TLS_NONE: looked at, nothing to probe */
	int handles[2];       /* sensor uprobe handles, -1 when unused */
	struct hmap *users;   /* "tgid" -> (void *)1 */
	char key[48];         /* "dev:ino" */
	/* CLOCK_BOOTTIME (the kernel's event clock) when its probes were in
	 * place: a connection whose ClientHello is older began while its
	 * writes could not be seen (the race between a program's start and
	 * the attach, which reads the whole ELF of a 100 MB node first) */
	uint64_t attached_ns;
	uint64_t idle_since_ns; /* its last user exited then (0: in use): detached after the linger */
	/* dedup keys of the opens that brought users and of the ClientHellos
	 * judged against its probes: forgotten on detach, so that a later
	 * open by the same binary in the same cgroup is seen again (and
	 * re-attaches), and a later hello is judged against the new attach */
	struct reach_dedup_key keys[TLS_FILE_MAX_KEYS];
	size_t n_keys;
};

struct tls_proc {
	enum tls_lib lib;
	bool before_agent;    /* found from /proc/PID/exe: its exec was not seen (it ran before the agent) */
	char file_key[48];    /* the file it uses ("" for Go/none) */
	/* the latest attach among every probed library it maps: its TLS may go
	 * through any of them, so a connection older than this one may have
	 * been written unseen (tls_process_library) */
	uint64_t probed_ns;
};

struct tls_coverage {
	struct sensor *sensor;
	struct hmap *files;  /* "dev:ino" -> struct tls_file */
	struct hmap *procs;  /* "tgid" -> struct tls_proc */
	/* "dev:ino:size:mtime:ctime" -> what inspect_exe found, +1: every exec
	 * of the same binary (a node tool run a hundred times) parsed its ELF
	 * again, ~0.4 ms for python3.11 and ~4 ms for node here. The ctime is
	 * in the key: no write to the file, nor a utime() putting its mtime
	 * back, leaves it as it was, so a binary changed in place is looked at
	 * again. Bounded: emptied when full. */
	struct hmap *exes;
	size_t attached;
	uint64_t attach_failures; /* files whose probe could not attach (their TLS stays unseen) */
	uint64_t attaches;        /* probes attached since start (detached ones included) */
	bool no_go;               /* sensor.no_go_tls: Go executables are not probed */
	uint64_t linger_ns;       /* sensor.tls_probe_linger_s: how long an unused file stays probed */
};

static uint64_t boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void tls_coverage_linger(struct tls_coverage *t, double seconds)
{
	t->linger_ns = seconds > 0 ? (uint64_t)(seconds * 1e9) : 0;
}

void tls_coverage_probe_go(struct tls_coverage *t, bool probe)
{
	t->no_go = !probe;
	if (!probe)
		log_info("tls: Go crypto/tls probing is off (sensor.no_go_tls): Go TLS is tls-blind");
}

static void tls_file_free(void *p)
{
	struct tls_file *f = p;

	if (!f)
		return;
	hmap_free(f->users, NULL);
	free(f);
}

struct tls_coverage *tls_coverage_new(struct sensor *s)
{
	struct tls_coverage *t = calloc(1, sizeof(*t));

	if (!t || !(t->files = hmap_new()) || !(t->procs = hmap_new()) || !(t->exes = hmap_new())) {
		if (t) {
			hmap_free(t->files, tls_file_free);
			hmap_free(t->procs, free);
		}
		free(t);
		return NULL;
	}
	t->sensor = s;
	elf_version(EV_CURRENT);
	return t;
}

void tls_coverage_free(struct tls_coverage *t)
{
	if (!t)
		return;
	hmap_free(t->files, tls_file_free); /* the sensor destroys the links */
	hmap_free(t->procs, free);
	hmap_free(t->exes, NULL);
	free(t);
}

static enum tls_lib lib_of_name(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (strncmp(base, "libssl.so", 9) == 0)
		return TLS_OPENSSL;
	if (strncmp(base, "libgnutls.so", 12) == 0)
		return TLS_GNUTLS;
	return TLS_NONE;
}

/* The file as the process sees it (its mount namespace). false when the
 * process is gone: the agent's own view of the path may be another file
 * (another container's), and probing that would cover nothing of it. */
static bool process_view(uint32_t tgid, const char *path, char *out, size_t n)
{
	struct stat st;

	snprintf(out, n, "/proc/%" PRIu32 "/root%s", tgid, path);
	return stat(out, &st) == 0;
}

/* A file's key in t->files: its device (stat's encoding) and inode. */
static void file_key(dev_t dev, uint64_t ino, char key[48])
{
	snprintf(key, 48, "%ju:%ju", (uintmax_t)dev, (uintmax_t)ino);
}

static void proc_key(uint32_t tgid, char key[16])
{
	snprintf(key, 16, "%" PRIu32, tgid);
}

/* Attaches the library's write probes once per file. */
static struct tls_file *attach_file(struct tls_coverage *t, const char *file, enum tls_lib lib)
{
	struct tls_file *f;
	struct stat st;
	char key[48];
	int rc;

	if (stat(file, &st) != 0)
		return NULL;
	file_key(st.st_dev, st.st_ino, key);
	f = hmap_get(t->files, key);
	if (f)
		return f;
	f = calloc(1, sizeof(*f));
	if (!f || !(f->users = hmap_new())) {
		free(f);
		return NULL;
	}
	snprintf(f->key, sizeof(f->key), "%s", key);
	f->handles[0] = f->handles[1] = -1;
	if (lib == TLS_GNUTLS) {
		rc = f->handles[0] = sensor_attach_uprobe(t->sensor, SENSOR_UPROBE_GNUTLS_SEND, file, "gnutls_record_send");
	} else if (lib == TLS_GO) {
		/* found through .symtab, or when stripped through .gopclntab
		 * (Go 1.18+ layout); neither: tls-blind */
		rc = f->handles[0] = sensor_attach_uprobe(t->sensor, SENSOR_UPROBE_GO_TLS_WRITE, file, GO_TLS_WRITE);
	} else {
		rc = f->handles[0] = sensor_attach_uprobe(t->sensor, SENSOR_UPROBE_SSL_WRITE, file, "SSL_write");
		/* SSL_write_ex exists from OpenSSL 1.1.1 on; BoringSSL lacks it */
		if (rc >= 0 && (f->handles[1] = sensor_attach_uprobe(t->sensor, SENSOR_UPROBE_SSL_WRITE_EX, file,
								     "SSL_write_ex")) < 0)
			log_debug("tls: %s has no SSL_write_ex", file);
	}
	if (rc < 0 && lib == TLS_GO && (rc == -ENOENT || rc == -EPROTONOSUPPORT || rc == -EBADMSG)) {
		log_info("tls: %s is Go without a findable %s (%s): its TLS is tls-blind", file, GO_TLS_WRITE,
			 rc == -EPROTONOSUPPORT ? "a .gopclntab older than Go 1.18" : "no symbol table, no readable .gopclntab");
		f->lib = TLS_NONE;
	} else if (rc < 0) {
		log_warn("tls: cannot probe %s (%s): TLS through it stays unseen", file,
			 rc == -ENOTUNIQ ? "its write function has several symbol versions" : strerror(-rc));
		f->lib = TLS_NONE;
		t->attach_failures++;
	} else {
		f->attached_ns = boot_ns();
		f->lib = lib;
		t->attached++;
		t->attaches++;
		log_info("tls: probing %s (%s)", file, lib_names[lib]);
	}
	if (hmap_put(t->files, key, f, NULL)) {
		tls_file_free(f);
		return NULL;
	}
	return f;
}

static void detach_file(struct tls_coverage *t, struct tls_file *f)
{
	for (int i = 0; i < 2; i++)
		sensor_detach_uprobe(t->sensor, f->handles[i]);
	for (size_t i = 0; i < f->n_keys; i++)
		sensor_dedup_forget(t->sensor, &f->keys[i]);
	log_info("tls: no process uses file %s any more: its probes are detached", f->key);
	t->attached--;
	tls_file_free(hmap_remove(t->files, f->key));
}

/* Drops tgid from its file's users. The last user's exit detaches after
 * the linger (tls_coverage_tick): a program run again and again (a CLI, a
 * job) is then probed from its first write instead of racing the attach
 * each time; with no linger, at once. */
static void release_file(struct tls_coverage *t, uint32_t tgid, const char *file_key)
{
	struct tls_file *f = file_key[0] ? hmap_get(t->files, file_key) : NULL;
	char key[16];

	if (!f)
		return;
	proc_key(tgid, key);
	hmap_remove(f->users, key);
	if (hmap_count(f->users) || f->lib == TLS_NONE)
		return;
	if (t->linger_ns) {
		f->idle_since_ns = boot_ns();
		return;
	}
	detach_file(t, f);
}

void tls_coverage_tick(struct tls_coverage *t)
{
	struct tls_file *due[64];
	uint64_t now = boot_ns();
	struct hmap_iter it;
	const char *key;
	size_t n = 0;
	void *v;

	/* collected, then detached: detaching removes from the map being walked;
	 * past 64 at once, the next tick takes the rest */
	hmap_iter_init(&it, t->files);
	while (n < sizeof(due) / sizeof(due[0]) && hmap_iter_next(&it, &key, &v)) {
		struct tls_file *f = v;

		if (f->lib != TLS_NONE && f->idle_since_ns && !hmap_count(f->users) &&
		    now - f->idle_since_ns >= t->linger_ns)
			due[n++] = f;
	}
	for (size_t i = 0; i < n; i++)
		detach_file(t, due[i]);
}

static void set_proc(struct tls_coverage *t, uint32_t tgid, enum tls_lib lib, struct tls_file *f)
{
	struct tls_proc *p;
	char key[16];

	proc_key(tgid, key);
	p = hmap_get(t->procs, key);
	if (!p) {
		if (!(p = calloc(1, sizeof(*p))) || hmap_put(t->procs, key, p, NULL)) {
			free(p);
			return;
		}
	}
	if (f && f->attached_ns > p->probed_ns)
		p->probed_ns = f->attached_ns;
	/* a library it maps unprobed spoils the rest, for good; else a real
	 * library wins over a "Go, blind" note, and the first library stays */
	if (p->lib == TLS_GONE || p->lib == TLS_UNPROBED)
		return;
	if (lib != TLS_GONE && lib != TLS_UNPROBED && p->lib != TLS_GO_BLIND && p->lib != TLS_GO_OFF &&
	    p->lib != TLS_GO_OLD && p->lib != TLS_NONE)
		return;
	p->lib = lib;
	if (f && hmap_count(f->users) < TLS_FILE_MAX_USERS && hmap_put(f->users, key, (void *)1, NULL) == 0) {
		snprintf(p->file_key, sizeof(p->file_key), "%s", f->key);
		f->idle_since_ns = 0; /* in use again: no detach due */
	}
}

static void scan_maps(struct tls_coverage *t, uint32_t tgid);

static void remember_key(struct tls_file *f, const struct reach_dedup_key *key)
{
	if (!key)
		return;
	for (size_t i = 0; i < f->n_keys; i++)
		if (memcmp(&f->keys[i], key, sizeof(*key)) == 0)
			return;
	if (f->n_keys < TLS_FILE_MAX_KEYS)
		f->keys[f->n_keys++] = *key;
}

void tls_on_open(struct tls_coverage *t, uint32_t tgid, const char *abs_path, const struct reach_inode_key *inode,
		 const struct reach_dedup_key *key)
{
	enum tls_lib lib = lib_of_name(abs_path);
	struct tls_file *f;
	char view[4200];

	if (lib == TLS_NONE)
		return;
	if (!process_view(tgid, abs_path, view, sizeof(view))) {
		/* gone before the agent read its open (a short-lived client, an
		 * agent behind): its file is known by the event's inode alone. Probed
		 * already (another user, or lingering): covered, the ClientHello's
		 * time judged as for anyone; not probed: nothing can be now. */
		char fkey[48];

		if (!inode)
			return;
		/* the kernel's dev_t (major << 20 | minor) in stat's encoding */
		file_key(makedev(inode->dev >> 20, inode->dev & 0xfffff), inode->ino, fkey);
		f = hmap_get(t->files, fkey);
		if (f && f->lib != TLS_NONE) {
			set_proc(t, tgid, lib, f);
			remember_key(f, key);
		} else {
			set_proc(t, tgid, TLS_GONE, NULL);
		}
		return;
	}
	f = attach_file(t, view, lib);
	if (f && f->lib != TLS_NONE) {
		set_proc(t, tgid, lib, f);
		remember_key(f, key);
	} else {
		set_proc(t, tgid, TLS_UNPROBED, NULL);
	}
}

static void scan_maps(struct tls_coverage *t, uint32_t tgid)
{
	char path[64], line[4608];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/maps", tgid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *file = strchr(line, '/');
		enum tls_lib lib;
		char view[4700];
		struct tls_file *tf;

		if (!file)
			continue;
		file[strcspn(file, "\n")] = '\0';
		lib = lib_of_name(file);
		if (lib == TLS_NONE || !process_view(tgid, file, view, sizeof(view)))
			continue;
		tf = attach_file(t, view, lib);
		set_proc(t, tgid, tf && tf->lib != TLS_NONE ? lib : TLS_UNPROBED, tf && tf->lib != TLS_NONE ? tf : NULL);
	}
	fclose(f);
}

void tls_scan_all_processes(struct tls_coverage *t)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(e->d_name, &end, 10);

		if (*end || !pid)
			continue;
		scan_maps(t, (uint32_t)pid);
	}
	closedir(d);
}

/* What an executable says about its TLS: exports SSL_write (OpenSSL or
 * BoringSSL linked in), or is a Go binary (.go.buildinfo). */
static enum tls_lib inspect_elf(int fd, const char *file)
{
	enum tls_lib found = TLS_NONE;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);

	if (!elf || elf_getshdrstrndx(elf, &shstrndx) != 0)
		goto out;
	while (found == TLS_NONE && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && strcmp(name, ".go.buildinfo") == 0) {
			Elf_Data *data = elf_getdata(scn, NULL);
			char version[64];
			int rc = data && data->d_buf ? go_buildinfo_version(data->d_buf, data->d_size, version,
									    sizeof(version))
						     : -EBADMSG;

			found = rc == 0 && go_version_register_abi(version) ? TLS_GO : TLS_GO_OLD;
			if (found == TLS_GO_OLD)
				log_info("tls: %s is Go (%s): not the register ABI reach's Go probe reads, not probed",
					 file, rc == 0 ? version : rc == -EPROTONOSUPPORT ? "older than 1.18" :
							   "unreadable build info");
			break;
		}
		if (sh.sh_type == SHT_DYNSYM || sh.sh_type == SHT_SYMTAB) {
			Elf_Data *data = elf_getdata(scn, NULL);
			size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;

			for (size_t i = 0; data && i < n; i++) {
				GElf_Sym sym;
				const char *sname;

				if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
					continue;
				sname = elf_strptr(elf, sh.sh_link, sym.st_name);
				if (sname && strcmp(sname, "SSL_write") == 0) {
					found = TLS_OPENSSL_STATIC;
					break;
				}
			}
		}
	}
out:
	elf_end(elf);
	return found;
}

#define TLS_EXES_MAX 1024

/* What an executable is (Go, OpenSSL linked in, neither), looked at once
 * per version of the file (t->exes). */
static enum tls_lib inspect_exe(struct tls_coverage *t, const char *file)
{
	enum tls_lib found;
	struct stat st;
	char key[128];
	void *v;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return TLS_NONE;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return TLS_NONE;
	}
	snprintf(key, sizeof(key), "%ju:%ju:%jd:%jd.%ld:%jd.%ld", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
		 (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (intmax_t)st.st_ctim.tv_sec,
		 st.st_ctim.tv_nsec);
	if ((v = hmap_get(t->exes, key))) {
		close(fd);
		return (enum tls_lib)((uintptr_t)v - 1);
	}
	found = inspect_elf(fd, file);
	close(fd);
	if (hmap_count(t->exes) >= TLS_EXES_MAX) {
		struct hmap *fresh = hmap_new();

		if (!fresh)
			return found; /* not kept: looked at again next time */
		hmap_free(t->exes, NULL);
		t->exes = fresh;
	}
	(void)hmap_put(t->exes, key, (void *)((uintptr_t)found + 1), NULL); /* -ENOMEM: not kept, the same */
	return found;
}

void tls_on_exec(struct tls_coverage *t, uint32_t tgid, const char *path)
{
	struct tls_file *f = NULL;
	char view[4200];
	enum tls_lib lib;

	/* a new image: what the old one mapped no longer counts */
	tls_on_exit(t, tgid);
	if (!path)
		snprintf(view, sizeof(view), "/proc/%" PRIu32 "/exe", tgid); /* inspect_running_exe() */
	else if (!process_view(tgid, path, view, sizeof(view)))
		return; /* gone already */
	lib = inspect_exe(t, view);
	if (lib == TLS_OPENSSL_STATIC) {
		f = attach_file(t, view, TLS_OPENSSL);
		if (!f || f->lib == TLS_NONE)
			lib = TLS_NONE;
	} else if ((lib == TLS_GO || lib == TLS_GO_OLD) && t->no_go) {
		lib = TLS_GO_OFF;
	} else if (lib == TLS_GO) {
		f = attach_file(t, view, TLS_GO);
		if (!f || f->lib == TLS_NONE) {
			lib = TLS_GO_BLIND;
			f = NULL;
		}
	}
	if (lib != TLS_NONE)
		set_proc(t, tgid, lib, f);
}

/* A process first met on the wire, with no TLS library mapped: its exec
 * was not seen (it started before the agent, or before its cgroup was
 * monitored), so its executable was never looked at. A Go one is probed
 * now (the uprobe reaches a running process too; connections it opened
 * before are joined mid-stream, and counted so), or noted blind with why. */
static void inspect_running_exe(struct tls_coverage *t, uint32_t tgid)
{
	char exe[64];
	struct tls_proc *p;
	char key[16];

	snprintf(exe, sizeof(exe), "/proc/%" PRIu32 "/exe", tgid);
	enum tls_lib lib = inspect_exe(t, exe);

	if (lib != TLS_GO && lib != TLS_GO_OLD)
		return; /* a statically linked OpenSSL is found by its maps' executable line: not here */
	tls_on_exec(t, tgid, NULL);
	proc_key(tgid, key);
	if ((p = hmap_get(t->procs, key)))
		p->before_agent = true;
}

void tls_on_fork(struct tls_coverage *t, uint32_t parent, uint32_t child)
{
	struct tls_proc *p;
	char key[16];

	proc_key(parent, key);
	p = hmap_get(t->procs, key);
	if (p) {
		struct tls_proc *c;

		set_proc(t, child, p->lib, p->file_key[0] ? hmap_get(t->files, p->file_key) : NULL);
		proc_key(child, key);
		if ((c = hmap_get(t->procs, key)) && c->probed_ns < p->probed_ns)
			c->probed_ns = p->probed_ns; /* it maps what its parent mapped */
	}
}

void tls_on_exit(struct tls_coverage *t, uint32_t tgid)
{
	struct tls_proc *p;
	char key[16];

	proc_key(tgid, key);
	p = hmap_remove(t->procs, key);
	if (!p)
		return;
	release_file(t, tgid, p->file_key);
	free(p);
}

const char *tls_process_library(struct tls_coverage *t, uint32_t tgid, uint64_t since_ns,
				const struct reach_dedup_key *key_of_traffic, const char **why, uint64_t *late_ms)
{
	struct tls_file *f;
	struct tls_proc *p;
	enum tls_lib lib;
	char key[16];

	*late_ms = 0;
	proc_key(tgid, key);
	p = hmap_get(t->procs, key);
	if (!p) {
		/* not seen opening a TLS library: its open may have been a dedup
		 * repeat of an earlier process's. Ask the process itself. */
		scan_maps(t, tgid);
		if (!(p = hmap_get(t->procs, key))) {
			inspect_running_exe(t, tgid);
			p = hmap_get(t->procs, key);
		}
	}
	lib = p ? p->lib : TLS_NONE;
	if (lib == TLS_GO_BLIND) {
		*why = p->before_agent ? "Go crypto/tls whose Write reach cannot find (no symbol table and no Go 1.18+ "
					 ".gopclntab), in a process started before the agent"
				       : "Go crypto/tls whose Write reach cannot find (no symbol table and no Go 1.18+ .gopclntab)";
		return NULL;
	}
	if (lib == TLS_GO_OLD) {
		*why = p->before_agent ? "Go built by a toolchain older than the register ABI (Go 1.17; or build info older "
					 "than 1.18): not probed, in a process started before the agent"
				       : "Go built by a toolchain older than the register ABI (Go 1.17; or build info older "
					 "than 1.18): not probed";
		return NULL;
	}
	if (lib == TLS_GO_OFF) {
		*why = p->before_agent ? "Go crypto/tls not probed: Go probing is turned off (sensor.no_go_tls), in a "
					 "process started before the agent"
				       : "Go crypto/tls not probed: Go probing is turned off (sensor.no_go_tls)";
		return NULL;
	}
	if (lib == TLS_UNPROBED) {
		*why = "it maps a TLS library whose probe could not be attached (the agent's log says why): what it "
		       "sends through it is not seen";
		return NULL;
	}
	if (lib == TLS_GONE) {
		*why = "it opened a TLS library no probe was on and exited before reach could probe it: what it sent is "
		       "not seen";
		return NULL;
	}
	if (lib == TLS_NONE) {
		*why = "no covered TLS library (OpenSSL, BoringSSL, GnuTLS) in the process: rustls, Java or a stripped static binary";
		return NULL;
	}
	*why = NULL;
	f = p && p->file_key[0] ? hmap_get(t->files, p->file_key) : NULL;
	if (f && since_ns) {
		/* judged against this attach: a re-attach must judge it again */
		remember_key(f, key_of_traffic);
		if (p->probed_ns > since_ns) {
			*late_ms = (p->probed_ns - since_ns + 999999) / 1000000;
			*why = "its TLS connection began before reach's probe on its library was attached: what it sent "
			       "before the probe is not seen";
		}
	}
	return lib_names[lib];
}

size_t tls_files_attached(const struct tls_coverage *t) { return t->attached; }

uint64_t tls_attach_failures(const struct tls_coverage *t)
{
	return t ? t->attach_failures : 0;
}

uint64_t tls_attaches(const struct tls_coverage *t)
{
	return t ? t->attaches : 0;
}
