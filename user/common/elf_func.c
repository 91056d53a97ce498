#include <stdbool.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <unistd.h>
#include "common/elf_func.h"

/* The symbol's file offset: its address within the section holding it. */
static int sym_file_offset(Elf *elf, const GElf_Sym *sym, uint64_t *off)
{
	Elf_Scn *scn = elf_getscn(elf, sym->st_shndx);
	GElf_Shdr sh;

	if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS || sym->st_value < sh.sh_addr ||
	    sym->st_value - sh.sh_addr >= sh.sh_size)
		return -ENOENT;
	*off = sym->st_value - sh.sh_addr + sh.sh_offset;
	return 0;
}

/* Every defined FUNC symbol named func must be at one address. */
static int find_func(Elf *elf, const char *func, GElf_Sym *out)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	bool found = false;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB) ||
		    !sh.sh_entsize || !(data = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name || strcmp(name, func) != 0)
				continue;
			if (found && (sym.st_value != out->st_value || sym.st_shndx != out->st_shndx))
				return -ENOTUNIQ;
			*out = sym;
			found = true;
		}
	}
	return found ? 0 : -ENOENT;
}

int elf_func_code(int fd, const char *func, uint64_t *file_off, size_t *func_size, uint8_t *buf, size_t buf_size,
		  size_t *got)
{
	GElf_Sym sym = { 0 };
	uint64_t off = 0;
	ssize_t n;
	Elf *elf;
	int rc;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return -EINVAL;
	if (elf_kind(elf) != ELF_K_ELF) {
		elf_end(elf);
		return -EINVAL; /* not an ELF file at all */
	}
	rc = find_func(elf, func, &sym);
	if (rc == 0)
		rc = sym_file_offset(elf, &sym, &off);
	elf_end(elf);
	if (rc)
		return rc;
	n = pread(fd, buf, sym.st_size && sym.st_size < buf_size ? sym.st_size : buf_size, (off_t)off);
	if (n < 0)
		return -errno;
	*file_off = off;
	*func_size = sym.st_size;
	*got = (size_t)n;
	return 0;
}
