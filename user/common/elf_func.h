/* The machine code of a function in an ELF file, by symbol name: what the
 * uprobe placement (x86_entry.h) looks at before attaching. */
#ifndef REACH_ELF_FUNC_H
#define REACH_ELF_FUNC_H

#include <stddef.h>
#include <stdint.h>

/* Reads up to buf_size bytes from the start of func (a defined FUNC symbol
 * of .dynsym or .symtab) in the ELF file at path. 0 with *got bytes and
 * *func_size (the symbol's size); -ENOENT when there is no such function,
 * -errno on read errors, -EINVAL for a file libelf cannot read. */
int elf_func_code(const char *path, const char *func, uint8_t *buf, size_t buf_size, size_t *got,
		  size_t *func_size);

#endif
