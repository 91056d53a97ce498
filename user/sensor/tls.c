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
#include <unistd.h>
#include "common/hmap.h"
#include "common/log.h"
#include "sensor/sensor.h"
#include "sensor/tls.h"

enum tls_lib { TLS_NONE, TLS_OPENSSL, TLS_GNUTLS, TLS_OPENSSL_STATIC, TLS_GO };

static const char *const lib_names[] = { NULL, "openssl", "gnutls", "openssl (in the executable)", NULL };

struct tls_coverage {
	struct sensor *sensor;
	struct hmap *files;  /* "dev:ino" -> (enum tls_lib) + 1: attached or known not to be TLS */
	struct hmap *procs;  /* "tgid" -> (enum tls_lib) + 1 */
	size_t attached;
};

struct tls_coverage *tls_coverage_new(struct sensor *s)
{
	struct tls_coverage *t = calloc(1, sizeof(*t));

	if (!t || !(t->files = hmap_new()) || !(t->procs = hmap_new())) {
		if (t)
			hmap_free(t->files, NULL);
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
	hmap_free(t->files, NULL);
	hmap_free(t->procs, NULL);
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

/* The file as the process sees it (its mount namespace), falling back to
 * the agent's view when the process is gone. */
static void process_view(uint32_t tgid, const char *path, char *out, size_t n)
{
	struct stat st;

	snprintf(out, n, "/proc/%" PRIu32 "/root%s", tgid, path);
	if (stat(out, &st) != 0)
		snprintf(out, n, "%s", path);
}

static void set_proc(struct tls_coverage *t, uint32_t tgid, enum tls_lib lib)
{
	char key[16];
	void *old = hmap_get(t->procs, (snprintf(key, sizeof(key), "%" PRIu32, tgid), key));

	/* a real library wins over a "Go, blind" note; the first library stays */
	if (old && (uintptr_t)old - 1 != TLS_GO)
		return;
	hmap_put(t->procs, key, (void *)(uintptr_t)(lib + 1), NULL);
}

/* Attaches the library's write probes once per file. */
static enum tls_lib attach_file(struct tls_coverage *t, const char *file, enum tls_lib lib)
{
	char key[48];
	struct stat st;
	void *known;
	int rc;

	if (stat(file, &st) != 0)
		return TLS_NONE;
	snprintf(key, sizeof(key), "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
	known = hmap_get(t->files, key);
	if (known)
		return (enum tls_lib)((uintptr_t)known - 1);
	if (lib == TLS_GNUTLS) {
		rc = sensor_attach_uprobe(t->sensor, SENSOR_UPROBE_GNUTLS_SEND, file, "gnutls_record_send");
	} else {
		rc = sensor_attach_uprobe(t->sensor, SENSOR_UPROBE_SSL_WRITE, file, "SSL_write");
		/* SSL_write_ex exists from OpenSSL 1.1.1 on; BoringSSL lacks it */
		if (rc == 0 && sensor_attach_uprobe(t->sensor, SENSOR_UPROBE_SSL_WRITE_EX, file, "SSL_write_ex") != 0)
			log_debug("tls: %s has no SSL_write_ex", file);
	}
	if (rc) {
		log_warn("tls: cannot probe %s (%s): TLS through it stays unseen", file, strerror(-rc));
		lib = TLS_NONE;
	} else {
		t->attached++;
		log_info("tls: probing %s (%s)", file, lib_names[lib]);
	}
	hmap_put(t->files, key, (void *)(uintptr_t)(lib + 1), NULL);
	return lib;
}

void tls_on_open(struct tls_coverage *t, uint32_t tgid, const char *abs_path)
{
	enum tls_lib lib = lib_of_name(abs_path);
	char view[4200];

	if (lib == TLS_NONE)
		return;
	process_view(tgid, abs_path, view, sizeof(view));
	if (attach_file(t, view, lib) != TLS_NONE)
		set_proc(t, tgid, lib);
}

static void scan_maps(struct tls_coverage *t, uint32_t tgid, bool mark)
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

		if (!file)
			continue;
		file[strcspn(file, "\n")] = '\0';
		lib = lib_of_name(file);
		if (lib == TLS_NONE)
			continue;
		process_view(tgid, file, view, sizeof(view));
		if (attach_file(t, view, lib) != TLS_NONE && mark)
			set_proc(t, tgid, lib);
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
		scan_maps(t, (uint32_t)pid, true);
	}
	closedir(d);
}

/* What an executable says about its TLS: exports SSL_write (OpenSSL or
 * BoringSSL linked in), or is a Go binary (.go.buildinfo). */
static enum tls_lib inspect_exe(const char *file)
{
	enum tls_lib found = TLS_NONE;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	Elf *elf;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return TLS_NONE;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_getshdrstrndx(elf, &shstrndx) != 0)
		goto out;
	while (found == TLS_NONE && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && strcmp(name, ".go.buildinfo") == 0) {
			found = TLS_GO;
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
	close(fd);
	return found;
}

void tls_on_exec(struct tls_coverage *t, uint32_t tgid, const char *path)
{
	char view[4200], key[16];
	enum tls_lib lib;

	/* a new image: what the old one mapped no longer counts */
	hmap_remove(t->procs, (snprintf(key, sizeof(key), "%" PRIu32, tgid), key));
	process_view(tgid, path, view, sizeof(view));
	lib = inspect_exe(view);
	if (lib == TLS_OPENSSL_STATIC)
		lib = attach_file(t, view, TLS_OPENSSL) != TLS_NONE ? TLS_OPENSSL_STATIC : TLS_NONE;
	if (lib != TLS_NONE)
		set_proc(t, tgid, lib);
}

void tls_on_fork(struct tls_coverage *t, uint32_t parent, uint32_t child)
{
	char key[16];
	void *v = hmap_get(t->procs, (snprintf(key, sizeof(key), "%" PRIu32, parent), key));

	if (v)
		hmap_put(t->procs, (snprintf(key, sizeof(key), "%" PRIu32, child), key), v, NULL);
}

void tls_on_exit(struct tls_coverage *t, uint32_t tgid)
{
	char key[16];

	hmap_remove(t->procs, (snprintf(key, sizeof(key), "%" PRIu32, tgid), key));
}

const char *tls_process_library(struct tls_coverage *t, uint32_t tgid, const char **why)
{
	char key[16];
	void *v = hmap_get(t->procs, (snprintf(key, sizeof(key), "%" PRIu32, tgid), key));
	enum tls_lib lib = v ? (enum tls_lib)((uintptr_t)v - 1) : TLS_NONE;

	if (lib == TLS_GO) {
		*why = "Go crypto/tls (statically linked; no uprobe support yet)";
		return NULL;
	}
	if (lib == TLS_NONE) {
		*why = "no covered TLS library (OpenSSL, BoringSSL, GnuTLS) in the process: rustls, Java or a stripped static binary";
		return NULL;
	}
	*why = NULL;
	return lib_names[lib];
}

size_t tls_files_attached(const struct tls_coverage *t) { return t->attached; }
