/* SPDX-License-Identifier: MIT */
/*
 * verify.h - data verification: a per-LBA CRC table per namespace, write
 * stamping, LBA range locks, and the hooks queue.c calls at submission and
 * completion (pynvme's "verify" feature, sized for 16 TB namespaces).
 *
 * The table. One 32-bit entry per LBA: the CRC-32C of the whole block (data
 * only, lba_size bytes, stamps included) as last written, or a reserved value:
 * NVME_VT_NEVER (0: never written, deallocated, or unknown - never checked) and
 * NVME_VT_UNC (written uncorrectable). A real CRC equal to a reserved value is
 * stored as its neighbour (crc32c_entry()), so a check of such a block passes
 * with a 2^-32 chance of missing a corruption that maps it there. Entries live
 * in a three-level radix tree whose memory follows the LBAs written, not the
 * namespace size:
 *
 *   dir[lba >> 14]  one word per 16384 LBAs, mmap'ed MAP_NORESERVE: pages
 *                   never touched are never resident (16 TiB of 512 B LBAs:
 *                   16 MiB virtual)
 *   mini / mid      the leaves under a directory entry: a 64 B mini node for
 *                   up to 8 of them, replaced by a 2 KiB mid node (256
 *                   pointers) when a ninth is needed
 *   leaf->e[64]     256 B of entries, allocated on the first write to them
 *
 * Writes allocate; reads, deallocate, clears and lookups of unwritten LBAs do
 * not (absent means NVME_VT_NEVER). A write far from any other costs a leaf
 * and a mini node (320 B) plus, the first time, its directory page; a dense
 * fill costs 4.13 bytes per LBA. Nodes come from 2 MiB slabs (huge pages where
 * the kernel allows) with a bump pointer, so allocating is cheap on the IO path.
 * Nodes are installed with compare-and-swap and entries read and written with
 * atomics, so every queue and ioworker thread of the controller shares one
 * table without a lock on the IO path.
 *
 * Locks. Two commands in flight on the same LBA (write/write, read/write)
 * would make the outcome depend on the device's ordering, so a command that
 * reads or writes data of a namespace with a table takes exclusive locks on
 * its LBA ranges at submission and drops them when its tracker is released;
 * a conflict returns -EAGAIN and the submitter retries after reaping (as for
 * a full queue). Lock bits are a bitmap per table indexed by LBA modulo its
 * size (at most 2^22 bits, 512 KiB; exact for namespaces up to 2 GiB of 512 B
 * LBAs): a collision only delays a command, it never lets two conflicting ones
 * run. The same applies to host memory: commands on a table also lock their
 * data buffer range (512-byte granules of the DMA arena), because a write
 * stamps its buffer and a read is checked from it at completion - two
 * commands in flight on one buffer region would see each other's data.
 *
 * Stamping. Before a Write (01h) is posted, each block of its buffer gets the
 * LBA number in its first 8 bytes and a process-wide write token in its last
 * 8 bytes (the token advances by one per block, so no two written blocks are
 * alike and a stale block is told from a fresh one).
 *
 * Update rules, applied when the command completes with success:
 *   Write (01h)              entry = CRC of each block in the buffer
 *   Write Zeroes (08h)       entry = CRC of a zero block (the NVM command set
 *                            requires zeroes on read after Write Zeroes)
 *   DSM (09h), AD set        entry = NVME_VT_NEVER for each range (deallocate
 *                            is advisory: old data or zeroes may be read), or
 *                            the zero CRC with NVME_VERIFY_F_TRIM_ZEROES
 *   Write Uncorrectable (04h) entry = NVME_VT_UNC
 *   Copy (19h), format 0/1   destination entries = source entries
 *   Format NVM (80h, admin)  the namespace's table is cleared (every table for
 *                            NSID FFFFFFFFh, or per the FNA flags)
 *   Sanitize (84h, admin)    every table of the controller is cleared
 *   Zone Mgmt Send reset/offline  the namespace's table is cleared (zone
 *                            sizes are not tracked)
 * A command that fails with a status meaning "not executed" (invalid field,
 * LBA out of range, ... see nvme_verify_rejected()) changes nothing; any other
 * failure, a timeout without a late answer, a reset or a lost device leaves
 * the written range unknown: NVME_VT_NEVER. A clear (format, sanitize) makes
 * commands in flight across it count as unknown too (table epoch).
 *
 * Verification (Read 02h completing with success, table on): for each block
 * whose entry is not NVME_VT_NEVER, its CRC is computed and compared. A
 * mismatch is an "LBA mismatch" when the block's first 8 bytes hold another
 * valid LBA number (the data of another LBA: a mapping error), else a "CRC
 * mismatch" (corrupt or stale data); a block whose entry is NVME_VT_UNC that
 * reads successfully is an "uncorrectable" failure. Copied blocks carry their
 * source's stamp and still pass: the CRC is checked before the stamp. A failing
 * read's completion is rewritten to status 07/81 (SCT 7 vendor specific, as
 * pynvme reports it) with NVME_CPL_VERIFY_* flags, and a report (first and last
 * bad LBA, expected and found values, bad block count) is kept per controller,
 * found again with nvme_sq_verify_report() by the SQ handle and tag of the
 * completion record.
 */
#ifndef NVMESHIM_VERIFY_H
#define NVMESHIM_VERIFY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvmeshim.h"

struct nvme_ctrl;
struct nvme_sq;
struct nvme_cpl;
struct nvme_buf;
struct nvme_vslab;
struct nvme_tracker;

/* Reserved table entries. */
#define NVME_VT_NEVER 0x00000000u /* never written, deallocated or unknown: not checked */
#define NVME_VT_UNC 0xffffffffu	  /* written uncorrectable: a successful read fails */

/* Radix tree geometry. */
#define NVME_VT_LEAF_BITS 6u /* 64 entries (256 B) per leaf */
#define NVME_VT_MID_BITS 8u  /* 256 leaves per mid node (2 KiB) */
#define NVME_VT_DIR_SHIFT (NVME_VT_LEAF_BITS + NVME_VT_MID_BITS) /* LBAs per dir entry: 16384 */
#define NVME_VT_MINI_SLOTS 8u /* leaves a mini node holds (64 B) before a mid replaces it */
#define NVME_VT_LOCK_MAX_BITS 18u /* lock bitmap of at most 2^18 bits (32 KiB: stays in cache; aliasing only serializes) */
#define NVME_VT_HOST_GRANULE 512u /* host memory lock granule (bytes of the DMA arena) */

/* Status, flags, failure kinds and reports kept: see nvmeshim.h (NVME_STATUS_VERIFY, ...). */

/* One locked interval of a lock map: bits [start, start + count). */
struct nvme_vival {
	uint32_t start, count;
};

/*
 * A lock map: 2^bits lock bits. Index i locks every unit u with u mod 2^bits
 * == i (LBAs of a table; 512-byte granules of the DMA arena for the host map).
 */
struct nvme_vlocks {
	uint64_t *w;	/* mmap'ed words */
	uint32_t bits;	/* log2 of the number of lock bits */
	uint64_t bytes; /* mapping size */
};

struct nvme_vleaf {
	uint32_t e[1u << NVME_VT_LEAF_BITS];
};

struct nvme_vmid {
	struct nvme_vleaf *leaf[1u << NVME_VT_MID_BITS];
};

/*
 * A mini node: the first leaves under a directory entry, each slot holding a
 * leaf address (256-byte aligned) with the leaf's index in its low 8 bits.
 * Random writes far apart need one leaf per directory entry, so a 64-byte mini
 * node stands in for the 2 KiB mid node until a ninth leaf is needed. The
 * directory entry tells them apart by bit 0 (set: mini).
 */
struct nvme_vmini {
	uint64_t slot[NVME_VT_MINI_SLOTS];
};

/* Table states (nvme_vtab.state). */
#define NVME_VT_OFF 0
#define NVME_VT_ON 1
#define NVME_VT_CLEARING 3 /* being cleared or reconfigured: new commands go unverified */

/* The table of one namespace. */
struct nvme_vtab {
	uint32_t nsid;
	uint32_t lba_size; /* bytes per block (data only) */
	uint64_t nlba;	   /* LBAs of the namespace */
	uint64_t limit;	   /* LBAs covered: [0, limit) */
	uint32_t flags;	   /* NVME_VERIFY_F_* */
	uint32_t zero_crc; /* entry of a block of zeroes */
	int state;	   /* NVME_VT_* (atomic) */
	uint32_t epoch;	   /* bumped by every clear (atomic) */
	uint64_t refs;	   /* commands in flight attached, lookups in progress (atomic) */
	uintptr_t *dir;	   /* mid node address, or mini node address | 1, or 0 */
	uint64_t ndir;	   /* dir entries */
	uint64_t dir_bytes;
	struct nvme_vlocks locks;
	struct nvme_vslab *slab[2]; /* newest slab of leaves [0] and of other nodes [1] (verify.c) */
	pthread_mutex_t slab_lock;  /* adding a slab */
	bool slab_lock_init;
	uint64_t slab_bytes;	    /* slab memory mapped (resident only where touched) */
	/* statistics (atomic, relaxed) */
	uint64_t leaves, mids, minis; /* nodes allocated now */
	uint64_t stamped;	   /* blocks stamped by writes */
	uint64_t checked;	   /* blocks whose CRC was compared on read */
	uint64_t skipped;	   /* blocks read that were never written (not checked) */
	uint64_t bad_blocks;	   /* blocks that failed verification */
	uint64_t bad_cmds;	   /* reads that failed verification */
	uint64_t conflicts;	   /* submissions refused by a lock conflict */
	uint64_t alloc_failures;   /* leaves that could not be allocated (left unchecked) */
};

/*
 * What a command attached to a table does at completion (nvme_vcmd.op). The
 * admin ops carry no table: they clear tables of the controller.
 */
enum nvme_vop {
	VOP_NONE = 0,	/* nothing tracked */
	VOP_LOCK,	/* only locks (Compare) */
	VOP_READ,	/* verify the data */
	VOP_WRITE,	/* entries = CRC of the data */
	VOP_ZEROES,	/* entries = zero CRC */
	VOP_UNC,	/* entries = NVME_VT_UNC */
	VOP_TRIM,	/* DSM deallocate: ranges = NVME_VT_NEVER (or zero CRC) */
	VOP_COPY,	/* destination entries = source entries */
	VOP_UNKNOWN,	/* data written that cannot be followed: entries = NVME_VT_NEVER */
	VOP_CLEAR_NS,	/* clear the table (zone reset) */
	VOP_FORMAT,	/* admin Format NVM */
	VOP_SANITIZE,	/* admin Sanitize */
};

/* An LBA range of a multi-range command (DSM ranges, Copy sources). */
struct nvme_vrange {
	uint64_t slba;
	uint64_t nlb;
};

/* Per-command verification state, embedded in struct nvme_tracker. */
struct nvme_vcmd {
	struct nvme_vtab *vt; /* table (a reference held), NULL: none */
	uint8_t *data;	      /* host address of the blocks (read/write), NULL: none */
	uint64_t slba;	      /* first LBA (destination of a Copy) */
	uint64_t nlb;	      /* blocks */
	uint8_t op;	      /* enum nvme_vop */
	uint8_t done;	      /* the completion was applied */
	uint16_t nranges;     /* entries in ranges[] */
	uint32_t epoch;	      /* vt->epoch at submission */
	uint32_t nlk;	      /* LBA lock intervals held: lk[] or lkv */
	struct nvme_vival lk[2];
	struct nvme_vival *lkv;	    /* more intervals (multi-range), malloc'ed */
	struct nvme_vrange *ranges; /* DSM ranges / Copy sources, malloc'ed */
	struct nvme_vival host;	    /* host granules locked (count 0: none) */
	uint32_t nsid, cdw10;	    /* admin Format/Sanitize */
};

/* A verification failure, as reported for one read command. */
struct nvme_verify_report {
	uint32_t sq_handle, tag; /* the completion record it belongs to */
	uint32_t kind;		 /* NVME_VERIFY_* of the first bad block */
	uint32_t nsid;
	uint64_t lba;		 /* first bad block */
	uint64_t last_lba;	 /* last bad block */
	uint64_t found_lba;	 /* LBA stamp found in the first bad block */
	uint64_t found_token;	 /* write token found in the first bad block */
	uint32_t expected;	 /* table entry of the first bad block */
	uint32_t found;		 /* CRC of the first bad block as read */
	uint32_t nbad;		 /* bad blocks in the command */
	uint32_t kinds;		 /* bit (1 << kind) for every kind seen */
	uint64_t slba;		 /* the command's range */
	uint32_t nlb;
	uint16_t cid, sqid;
};

#define NVME_VT_DIRECT 1024u	  /* NSIDs below this are looked up directly */
#define NVME_VT_MAX_OTHER 64u	  /* tables of larger NSIDs */

/* The tables of one controller (struct nvme_ctrl.verify). */
struct nvme_vreg {
	pthread_mutex_t lock;	/* enable, disable, clear, reports */
	int active;		/* tables on (atomic): the hooks' fast exit */
	uint32_t nother;	/* tables in other[] (grows only) */
	struct nvme_vtab *direct[NVME_VT_DIRECT];
	struct nvme_vtab *other[NVME_VT_MAX_OTHER];
	struct nvme_verify_report *reports; /* ring of NVME_VERIFY_REPORTS, on first failure */
	uint64_t nreports;		    /* reports written so far */
};

/* --- hooks (queue.c, ctrl.c) -------------------------------------------------- */

/**
 * nvme_verify_submit() - prepare a command on @sq for verification before it
 * is posted: look up its namespace's table, take LBA and host locks, stamp a
 * write's blocks, and fill @v (zeroed by the caller).
 * @sq: the queue (qid 0: Format/Sanitize are noted, nothing is locked)
 * @sqe: the command
 * @buf: data buffer or NULL
 * @off: offset of the data in @buf
 * @len: data bytes
 * @flags: NVME_SUBMIT_* (raw PRPs, no data: the data cannot be followed)
 * @v: the tracker's state, filled in
 *
 * Return: 0 (with or without a table), -EAGAIN when a lock is held by a
 * command in flight (nothing taken; retry after reaping), -ENOMEM.
 */
int nvme_verify_submit(struct nvme_sq *sq, const uint8_t *sqe, struct nvme_buf *buf, uint64_t off,
		       uint64_t len, uint32_t flags, struct nvme_vcmd *v);

/**
 * nvme_verify_complete() - apply a completion: update the table, or verify a
 * read and rewrite @o to status 07/81 with NVME_CPL_VERIFY_* on failure.
 * Called once per device completion (late ones included) before the tracker
 * is released.
 */
void nvme_verify_complete(struct nvme_sq *sq, struct nvme_vcmd *v, struct nvme_cpl *o);

/**
 * nvme_verify_release() - drop the command's locks and table reference; a
 * command that never got its completion applied (timeout, reset, queue
 * deleted) leaves the range it wrote unknown (NVME_VT_NEVER).
 */
void nvme_verify_release(struct nvme_sq *sq, struct nvme_vcmd *v);

/** nvme_verify_ctrl_fini() - free every table of a controller (after its queues). */
void nvme_verify_ctrl_fini(struct nvme_ctrl *c);

/** nvme_verify_on() - true when namespace @nsid of @c has its table on now. */
bool nvme_verify_on(struct nvme_ctrl *c, uint32_t nsid);

/**
 * nvme_verify_describe() - the failure of the read completed with tag @tag on
 * @sq, in words ("CRC mismatch at LBA 5: expected CRC 0x..., found 0x..."),
 * for callers without a TypeScript side (the ioworker). Return: 0, -ENOENT.
 */
int nvme_verify_describe(struct nvme_sq *sq, uint32_t tag, char *buf, size_t size);

/* --- pure parts, unit tested ---------------------------------------------------- */

/** crc32c_entry() - the table entry of a block with CRC @crc (reserved values moved). */
static inline uint32_t crc32c_entry(uint32_t crc)
{
	return crc == NVME_VT_NEVER ? 1u : crc == NVME_VT_UNC ? NVME_VT_UNC - 1 : crc;
}

/**
 * nvme_vtab_init() - set up an empty table (no entries allocated).
 * Return: 0, -EINVAL (bad geometry), -ENOMEM (directory or lock map).
 */
int nvme_vtab_init(struct nvme_vtab *vt, uint32_t nsid, uint32_t lba_size, uint64_t nlba,
		   uint64_t limit, uint32_t flags);
/** nvme_vtab_fini() - free the entries, directory and lock map. */
void nvme_vtab_fini(struct nvme_vtab *vt);
/**
 * nvme_vtab_clear() - forget every entry: freed when @exclusive (nobody else
 * uses the table), else zeroed in place. Bumps the epoch.
 */
void nvme_vtab_clear(struct nvme_vtab *vt, bool exclusive);
/** nvme_vtab_get() - the entry of @lba (NVME_VT_NEVER when absent or past the limit). */
uint32_t nvme_vtab_get(struct nvme_vtab *vt, uint64_t lba);
/**
 * nvme_vtab_set() - set @n entries from @lba to @value (clipped to the limit);
 * NVME_VT_NEVER allocates nothing. Return: 0, -ENOMEM (entries left NEVER).
 */
int nvme_vtab_set(struct nvme_vtab *vt, uint64_t lba, uint64_t n, uint32_t value);
/**
 * nvme_vtab_record() - entries of @n blocks at @data (lba_size each) from @lba:
 * the CRC of each block. Return: 0, -ENOMEM.
 */
int nvme_vtab_record(struct nvme_vtab *vt, uint64_t lba, uint64_t n, const uint8_t *data);
/**
 * nvme_vtab_copy() - entries of @n LBAs from @src to @dst, in order (a Copy
 * command's ranges are applied one after the other).
 */
int nvme_vtab_copy(struct nvme_vtab *vt, uint64_t dst, uint64_t src, uint64_t n);
/**
 * nvme_vtab_check() - verify @n blocks read from @lba at @data.
 * @rep: the first failure (kind, lba, found...), nbad counts failures; zeroed
 *
 * Return: bad blocks (0: all good or unchecked).
 */
uint32_t nvme_vtab_check(struct nvme_vtab *vt, uint64_t lba, uint64_t n, const uint8_t *data,
			 struct nvme_verify_report *rep);

/**
 * nvme_vstamp() - stamp @n blocks of @bs bytes at @data: LBA @lba + i in the
 * first 8 bytes, @token + i in the last 8 (little endian).
 */
void nvme_vstamp(uint8_t *data, uint32_t bs, uint64_t lba, uint64_t n, uint64_t token);

/** nvme_vlocks_init() - a lock map of 2^@bits bits (mapped, zero). */
int nvme_vlocks_init(struct nvme_vlocks *m, uint32_t bits);
void nvme_vlocks_fini(struct nvme_vlocks *m);
/**
 * nvme_vlocks_ival() - the lock intervals of units [@start, @start + @n):
 * one or two (wrapping); all bits when @n covers the map.
 * Return: intervals written to @out (1 or 2; 0 when @n is 0).
 */
unsigned nvme_vlocks_ival(const struct nvme_vlocks *m, uint64_t start, uint64_t n,
			  struct nvme_vival out[2]);
/**
 * nvme_vlocks_merge() - sort @iv by start and merge overlapping or adjacent
 * intervals in place. Return: intervals left.
 */
unsigned nvme_vlocks_merge(struct nvme_vival *iv, unsigned n);
/**
 * nvme_vlocks_try() - set every bit of @n disjoint intervals, or none.
 * Return: 0, or -EAGAIN when a bit was set already (everything taken undone).
 */
int nvme_vlocks_try(struct nvme_vlocks *m, const struct nvme_vival *iv, unsigned n);
/** nvme_vlocks_drop() - clear the bits of intervals taken by nvme_vlocks_try(). */
void nvme_vlocks_drop(struct nvme_vlocks *m, const struct nvme_vival *iv, unsigned n);
/** nvme_vlocks_count() - bits set now (tests). */
uint64_t nvme_vlocks_count(const struct nvme_vlocks *m);

/**
 * nvme_verify_rejected() - true when a completion status (SCT << 8 | SC) means
 * the command was refused before any data was touched (invalid field, LBA out
 * of range, write protected, ...): the table stays as it was.
 */
bool nvme_verify_rejected(uint32_t status);

#endif
