/* .gopclntab lookup (go_pclntab.h). Layout (Go 1.18+, runtime/symtab.go
 * pcHeader): magic u32, 2 zero bytes, minLC u8, ptrSize u8, then ptrSize
 * words nfunc, nfiles, textStart, funcnameOffset, cuOffset, filetabOffset,
 * pctabOffset, pclnOffset. At pclnOffset: nfunc (entryOff u32, funcOff u32)
 * pairs; a _func at pclnOffset + funcOff starts (entryOff u32, nameOff i32);
 * the name is at funcnameOffset + nameOff. Every offset is checked against
 * the section: the file is untrusted. */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include "common/go_pclntab.h"

static uint64_t rd(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int go_pclntab_lookup(const uint8_t *t, size_t len, const char *func, uint64_t *vaddr)
{
	uint64_t nfunc, text, names, pcln;
	uint32_t magic;
	size_t flen = strlen(func);
	int ps;

	if (len < 8)
		return -EBADMSG;
	magic = (uint32_t)rd(t, 4);
	if (magic != 0xfffffff0 && magic != 0xfffffff1)
		return -EPROTONOSUPPORT;
	ps = t[7];
	if (ps != 8 && ps != 4)
		return -EBADMSG;
	if (len < 8 + 8 * (size_t)ps)
		return -EBADMSG;
	nfunc = rd(t + 8, ps);
	text = rd(t + 8 + 2 * ps, ps);
	names = rd(t + 8 + 3 * ps, ps);
	pcln = rd(t + 8 + 7 * ps, ps);
	if (pcln > len || nfunc > (len - pcln) / 8 || names > len)
		return -EBADMSG;
	for (uint64_t i = 0; i < nfunc; i++) {
		uint64_t fo = rd(t + pcln + i * 8 + 4, 4), at = pcln + fo;
		int64_t name_off;
		uint64_t name;

		if (fo > len || at > len - 8)
			return -EBADMSG;
		name_off = (int32_t)rd(t + at + 4, 4);
		if (name_off < 0 || (uint64_t)name_off > len - names)
			return -EBADMSG;
		name = names + (uint64_t)name_off;
		if (len - name > flen && memcmp(t + name, func, flen) == 0 && t[name + flen] == '\0') {
			*vaddr = text + rd(t + at, 4);
			return 0;
		}
	}
	return -ENOENT;
}

int go_pclntab_func(int fd, const char *func, uint64_t *file_off)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx, nph;
	uint64_t vaddr = 0;
	int rc = -ENOENT;
	Elf *elf;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return -EINVAL;
	if (elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx) != 0) {
		elf_end(elf);
		return -EINVAL;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)) ||
		    strcmp(name, ".gopclntab") != 0)
			continue;
		data = elf_getdata(scn, NULL);
		rc = data && data->d_buf ? go_pclntab_lookup(data->d_buf, data->d_size, func, &vaddr) : -EBADMSG;
		break;
	}
	/* the address to a file offset through the loadable segment holding it */
	if (rc == 0) {
		rc = -ENOENT;
		if (elf_getphdrnum(elf, &nph) == 0)
			for (size_t i = 0; i < nph; i++) {
				GElf_Phdr ph;

				if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
				    vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr < ph.p_filesz) {
					*file_off = vaddr - ph.p_vaddr + ph.p_offset;
					rc = 0;
					break;
				}
			}
	}
	elf_end(elf);
	return rc;
}

int go_buildinfo_version(const uint8_t *sec, size_t len, char *out, size_t out_size)
{
	static const char magic[] = "\xff Go buildinf:";
	uint64_t n = 0;
	size_t at = 32;

	if (!sec || !out || !out_size || len < 32 || memcmp(sec, magic, 14) != 0)
		return -EBADMSG;
	out[0] = '\0';
	if (!(sec[15] & 0x2))
		return -EPROTONOSUPPORT; /* pointers to the strings: a toolchain older than Go 1.18 */
	/* a uvarint length, then the version's bytes */
	for (int shift = 0; at < len && shift < 35; shift += 7) {
		uint8_t b = sec[at++];

		n |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
		if (shift == 28)
			return -EBADMSG;
	}
	if (!n || n >= out_size || n > len - at)
		return -EBADMSG;
	memcpy(out, sec + at, n);
	out[n] = '\0';
	if (strncmp(out, "go", 2) != 0 && strncmp(out, "devel", 5) != 0) {
		out[0] = '\0';
		return -EBADMSG;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e) {
			out[0] = '\0';
			return -EBADMSG;
		}
	return 0;
}

int go_version_register_abi(const char *v)
{
	unsigned long minor;
	char *end;

	if (!v)
		return 0;
	if (strncmp(v, "devel", 5) == 0)
		return 1; /* a toolchain built from source: today's */
	if (strncmp(v, "go1.", 4) != 0)
		return 0;
	minor = strtoul(v + 4, &end, 10);
	return end != v + 4 && minor >= 17;
}
