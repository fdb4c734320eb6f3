/*
 * driver_image.c — is a buffer a loadable GPU code image, whole?
 *
 * cuLibraryLoadData and cuModuleLoadData take no size: they trust the
 * image's own headers (or read PTX up to its NUL). A truncated cubin from a
 * damaged cache file, or any other bytes, would make the driver read past
 * the buffer. So before handing an image over, check that everything its
 * headers point at lies inside the `size` bytes we were given.
 */
#include <stdint.h>
#include <string.h>

#include "driver.h"
#include "ir.h"

#define ELF64_EHDR_SIZE 64
#define ELF64_SHDR_SIZE 64
#define ELF64_PHDR_SIZE 56
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define EM_CUDA 190
#define SHT_NOBITS 8
#define FATBIN_MAGIC 0xBA55ED50u   /* fatbinary data (what NVRTC and nvcc -fatbin emit) */

static uint64_t rd(const unsigned char *p, int bytes) {   /* little-endian */
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* [off, off + len) inside [0, size), without overflow. */
static int inside(uint64_t off, uint64_t len, size_t size) {
    return off <= size && len <= size - off;
}

static tj_status bad(const char *what, size_t size, const char *why) {
    return tj_set_error(TJ_ERR_INVALID_ARG, "%s: the image (%zu bytes) %s", what, size, why);
}

static tj_status check_elf(const unsigned char *p, size_t size, const char *what) {
    if (size < ELF64_EHDR_SIZE) return bad(what, size, "is shorter than an ELF header");
    if (p[4] != ELFCLASS64 || p[5] != ELFDATA2LSB || rd(p + 18, 2) != EM_CUDA)
        return bad(what, size, "is an ELF file but not a 64-bit CUDA cubin");
    uint64_t phoff = rd(p + 32, 8), shoff = rd(p + 40, 8);
    uint64_t phentsize = rd(p + 54, 2), phnum = rd(p + 56, 2);
    uint64_t shentsize = rd(p + 58, 2), shnum = rd(p + 60, 2);
    if ((shnum && shentsize != ELF64_SHDR_SIZE) || (phnum && phentsize != ELF64_PHDR_SIZE))
        return bad(what, size, "has malformed ELF headers");
    if (!inside(shoff, shnum * ELF64_SHDR_SIZE, size) ||
        !inside(phoff, phnum * ELF64_PHDR_SIZE, size))
        return bad(what, size, "is truncated (its ELF header tables run past the end)");
    for (uint64_t i = 0; i < shnum; i++) {
        const unsigned char *sh = p + shoff + i * ELF64_SHDR_SIZE;
        if (rd(sh + 4, 4) != SHT_NOBITS && !inside(rd(sh + 24, 8), rd(sh + 32, 8), size))
            return bad(what, size, "is truncated (a section runs past the end)");
    }
    for (uint64_t i = 0; i < phnum; i++) {
        const unsigned char *ph = p + phoff + i * ELF64_PHDR_SIZE;
        if (!inside(rd(ph + 8, 8), rd(ph + 32, 8), size))
            return bad(what, size, "is truncated (a segment runs past the end)");
    }
    return TJ_OK;
}

tj_status drv_image_check(const void *image, size_t size, const char *what) {
    if (!what) what = "drv_image_check";
    if (!image || size < 16)
        return tj_set_error(TJ_ERR_INVALID_ARG, "%s: the image is %s", what,
                            image ? "shorter than 16 bytes" : "NULL");
    const unsigned char *p = image;
    if (memcmp(p, "\177ELF", 4) == 0) return check_elf(p, size, what);
    if (rd(p, 4) == FATBIN_MAGIC) {
        /* u32 magic, u16 version, u16 header size, u64 size of what follows */
        if (!inside(rd(p + 6, 2), rd(p + 8, 8), size))
            return bad(what, size, "is a truncated fatbin");
        return TJ_OK;
    }
    if (memchr(p, 0, size)) return TJ_OK;   /* PTX text: the driver reads to the NUL */
    return bad(what, size, "is neither a cubin (ELF), a fatbin nor NUL-terminated PTX");
}
