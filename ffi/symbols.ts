/**
 * The libnvmeshim symbol table: every C entry point Deno may call, with the C
 * parameter names in comments. Handles are u32, counts and offsets u32 (fast
 * call path), 64-bit values BigInt.
 *
 * @module
 */

/** The FFI declaration of libnvmeshim, see `libnvmeshim/nvmeshim.h`. */
export const symbols = {
  /** uint32_t nvme_abi_version(void) */
  nvme_abi_version: { parameters: [], result: "u32" },
  /** const char *nvme_error(void) */
  nvme_error: { parameters: [], result: "pointer" },
  /** int nvme_stats(uint64_t *out, uint32_t n) */
  nvme_stats: { parameters: ["buffer", "u32"], result: "i32" },

  /** int nvme_pcie_open_qemu(const char *args, const char *images, uint32_t *out) */
  nvme_pcie_open_qemu: {
    parameters: ["buffer", "buffer", "buffer"],
    result: "i32",
  },
  /** int nvme_pcie_open_vfio(const char *bdf, uint32_t *out) */
  nvme_pcie_open_vfio: { parameters: ["buffer", "buffer"], result: "i32" },
  /** int nvme_pcie_open_tcp(const char *cfg, uint32_t *out) */
  nvme_pcie_open_tcp: { parameters: ["buffer", "buffer"], result: "i32" },
  /** int nvme_tcp_discovery_log(const char *cfg, uint8_t *out, uint32_t len, uint32_t *got) */
  nvme_tcp_discovery_log: {
    parameters: ["buffer", "buffer", "u32", "buffer"],
    result: "i32",
  },
  /** int nvme_guest_start(const char *argv, const char *log, uint32_t *pid) */
  nvme_guest_start: {
    parameters: ["buffer", "buffer", "buffer"],
    result: "i32",
  },
  /** int nvme_guest_stop(uint32_t pid, uint32_t grace_ms) */
  nvme_guest_stop: { parameters: ["u32", "u32"], result: "i32" },
  /** int nvme_guest_alive(uint32_t pid) */
  nvme_guest_alive: { parameters: ["u32"], result: "i32" },
  /** int nvme_tcp_free_port(uint32_t *port) */
  nvme_tcp_free_port: { parameters: ["buffer"], result: "i32" },
  /** int nvme_pcie_close(uint32_t h) */
  nvme_pcie_close: { parameters: ["u32"], result: "i32" },
  /** int nvme_pcie_cfg_read(uint32_t h, uint32_t off, uint32_t size, uint32_t *val) */
  nvme_pcie_cfg_read: {
    parameters: ["u32", "u32", "u32", "buffer"],
    result: "i32",
  },
  /** int nvme_pcie_cfg_write(uint32_t h, uint32_t off, uint32_t size, uint32_t val) */
  nvme_pcie_cfg_write: {
    parameters: ["u32", "u32", "u32", "u32"],
    result: "i32",
  },
  /** int nvme_pcie_info(uint32_t h, uint64_t *out, uint32_t n) */
  nvme_pcie_info: { parameters: ["u32", "buffer", "u32"], result: "i32" },
  /** int nvme_pcie_irq_mask(uint32_t h, uint32_t vec, uint32_t mask) */
  nvme_pcie_irq_mask: { parameters: ["u32", "u32", "u32"], result: "i32" },
  /** int nvme_pcie_control(uint32_t h, const char *req, char *out, uint32_t cap) */
  nvme_pcie_control: {
    parameters: ["u32", "buffer", "buffer", "u32"],
    result: "i32",
  },
  /** int nvme_pcie_enable(uint32_t h) */
  nvme_pcie_enable: { parameters: ["u32"], result: "i32" },
  /** int nvme_pcie_hot_reset(uint32_t h) */
  nvme_pcie_hot_reset: { parameters: ["u32"], result: "i32" },
  /** int nvme_pcie_power(uint32_t h, uint32_t on) */
  nvme_pcie_power: { parameters: ["u32", "u32"], result: "i32" },
  /** int nvme_pcie_intx(uint32_t h, uint32_t *level) */
  nvme_pcie_intx: { parameters: ["u32", "buffer"], result: "i32" },
  /** int nvme_pcie_state(uint32_t h, uint32_t *out, uint32_t n) */
  nvme_pcie_state: { parameters: ["u32", "buffer", "u32"], result: "i32" },

  /** int nvme_ctrl_open(uint32_t pcie, uint32_t *out) */
  nvme_ctrl_open: { parameters: ["u32", "buffer"], result: "i32" },
  /** int nvme_ctrl_close(uint32_t h) */
  nvme_ctrl_close: { parameters: ["u32"], result: "i32" },
  /** int nvme_ctrl_reg_read32(uint32_t h, uint32_t off, uint32_t *val) */
  nvme_ctrl_reg_read32: { parameters: ["u32", "u32", "buffer"], result: "i32" },
  /** int nvme_ctrl_reg_read64(uint32_t h, uint32_t off, uint64_t *val) */
  nvme_ctrl_reg_read64: { parameters: ["u32", "u32", "buffer"], result: "i32" },
  /** int nvme_ctrl_reg_write32(uint32_t h, uint32_t off, uint32_t val) */
  nvme_ctrl_reg_write32: { parameters: ["u32", "u32", "u32"], result: "i32" },
  /** int nvme_ctrl_reg_write64(uint32_t h, uint32_t off, uint64_t val) */
  nvme_ctrl_reg_write64: { parameters: ["u32", "u32", "u64"], result: "i32" },
  /** int nvme_ctrl_set_timeout(uint32_t h, uint32_t ms) */
  nvme_ctrl_set_timeout: { parameters: ["u32", "u32"], result: "i32" },
  /** int nvme_ctrl_flush_doorbells(uint32_t h) */
  nvme_ctrl_flush_doorbells: { parameters: ["u32"], result: "i32" },

  /** int nvme_cq_create(uint32_t ctrl, uint32_t qid, uint32_t size, uint32_t vector, uint32_t ien, uint32_t *out, uint64_t *iova) */
  nvme_cq_create: {
    parameters: ["u32", "u32", "u32", "u32", "u32", "buffer", "buffer"],
    result: "i32",
  },
  /** int nvme_cq_delete(uint32_t h) */
  nvme_cq_delete: { parameters: ["u32"], result: "i32" },
  /** int nvme_sq_create(uint32_t ctrl, uint32_t qid, uint32_t size, uint32_t cq, uint32_t *out, uint64_t *iova) */
  nvme_sq_create: {
    parameters: ["u32", "u32", "u32", "u32", "buffer", "buffer"],
    result: "i32",
  },
  /** int nvme_sq_delete(uint32_t h) */
  nvme_sq_delete: { parameters: ["u32"], result: "i32" },
  /** int nvme_sq_submit_cmd(uint32_t sq, const uint8_t *sqe, uint32_t sqe_len, uint32_t buf, uint32_t off, uint32_t len, uint32_t tag, uint32_t flags) */
  nvme_sq_submit_cmd: {
    parameters: ["u32", "buffer", "u32", "u32", "u32", "u32", "u32", "u32"],
    result: "i32",
  },
  /** int nvme_sq_submit_meta(uint32_t sq, const uint8_t *sqe, uint32_t sqe_len, uint32_t buf, uint32_t off, uint32_t len, uint32_t mbuf, uint32_t moff, uint32_t mlen, uint32_t tag, uint32_t flags) */
  nvme_sq_submit_meta: {
    parameters: [
      "u32",
      "buffer",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
    ],
    result: "i32",
  },
  /** int nvme_cq_reap(uint32_t cq, struct nvme_cpl *out, uint32_t max) */
  nvme_cq_reap: { parameters: ["u32", "buffer", "u32"], result: "i32" },
  /** int nvme_cq_irq_gate(uint32_t cq, uint32_t on) */
  nvme_cq_irq_gate: { parameters: ["u32", "u32"], result: "i32" },
  /** int nvme_cq_poll_wait(uint32_t cq, uint32_t timeout_us) — blocks the calling thread */
  nvme_cq_poll_wait: { parameters: ["u32", "u32"], result: "i32" },
  /** the same function run off the event loop (for waitdoneAsync) */
  nvme_cq_poll_wait_nb: {
    name: "nvme_cq_poll_wait",
    parameters: ["u32", "u32"],
    result: "i32",
    nonblocking: true,
  },
  /** int nvme_sq_abandon(uint32_t sq, struct nvme_cpl *out, uint32_t max) */
  nvme_sq_abandon: { parameters: ["u32", "buffer", "u32"], result: "i32" },
  /** int nvme_sq_cmdlog(uint32_t sq, uint64_t *out, uint32_t n) */
  nvme_sq_cmdlog: { parameters: ["u32", "buffer", "u32"], result: "i32" },
  /** int nvme_sq_stats(uint32_t sq, uint32_t *out, uint32_t n) */
  nvme_sq_stats: { parameters: ["u32", "buffer", "u32"], result: "i32" },

  /** int nvme_buf_alloc(uint32_t size, uint32_t *out, uint64_t *addr) */
  nvme_buf_alloc: { parameters: ["u32", "buffer", "buffer"], result: "i32" },
  /** int nvme_buf_free(uint32_t h) */
  nvme_buf_free: { parameters: ["u32"], result: "i32" },

  /** int nvme_ioworker_layout(uint32_t ips_n, uint32_t cmdlog_n, uint32_t *out, uint32_t n) */
  nvme_ioworker_layout: {
    parameters: ["u32", "u32", "buffer", "u32"],
    result: "i32",
  },
  /**
   * int nvme_ioworker_run(uint32_t sq, uint32_t cq, const uint8_t *args, uint32_t args_len,
   * const uint8_t *seq, uint32_t seq_len, uint8_t *shm, uint32_t shm_len) — blocks the
   * calling thread (an ioworker's Deno Worker) until the workload ends
   */
  nvme_ioworker_run: {
    parameters: [
      "u32",
      "u32",
      "buffer",
      "u32",
      "buffer",
      "u32",
      "buffer",
      "u32",
    ],
    result: "i32",
  },
  /**
   * int nvme_bench_loop(uint32_t sq, uint32_t cq, uint32_t mode, uint32_t nsid, uint32_t lbas,
   * uint32_t lba_size, uint64_t span, uint32_t qd, uint32_t ms, uint64_t *out, uint32_t n)
   * — the benchmark's reference C loop, blocks
   */
  nvme_bench_loop: {
    parameters: [
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "u64",
      "u32",
      "u32",
      "buffer",
      "u32",
    ],
    result: "i32",
  },

  // data verification (libnvmeshim/verify.h)
  /** int nvme_ns_verify_enable(uint32_t ctrl, uint32_t nsid, uint32_t lba_size, uint64_t nlba, uint64_t limit, uint32_t flags) */
  nvme_ns_verify_enable: {
    parameters: ["u32", "u32", "u32", "u64", "u64", "u32"],
    result: "i32",
  },
  /** int nvme_ns_verify_disable(uint32_t ctrl, uint32_t nsid) */
  nvme_ns_verify_disable: { parameters: ["u32", "u32"], result: "i32" },
  /** int nvme_ns_verify_clear(uint32_t ctrl, uint32_t nsid) */
  nvme_ns_verify_clear: { parameters: ["u32", "u32"], result: "i32" },
  /** int nvme_ns_verify_stats(uint32_t ctrl, uint32_t nsid, uint64_t *out, uint32_t n) */
  nvme_ns_verify_stats: {
    parameters: ["u32", "u32", "buffer", "u32"],
    result: "i32",
  },
  /** int nvme_ns_verify_get(uint32_t ctrl, uint32_t nsid, uint64_t lba, uint32_t count, uint32_t *out) */
  nvme_ns_verify_get: {
    parameters: ["u32", "u32", "u64", "u32", "buffer"],
    result: "i32",
  },
  /** int nvme_sq_verify_report(uint32_t sq, uint32_t tag, uint64_t *out, uint32_t n) */
  nvme_sq_verify_report: {
    parameters: ["u32", "u32", "buffer", "u32"],
    result: "i32",
  },
  /** int nvme_verify_token(uint64_t *out, uint32_t n) */
  nvme_verify_token: { parameters: ["buffer", "u32"], result: "i32" },
  /** int nvme_crc32c(const uint8_t *buf, uint32_t len, uint32_t *out) */
  nvme_crc32c: { parameters: ["buffer", "u32", "buffer"], result: "i32" },
  // snapshots for observers on other threads (console/)
  /** int nvme_sq_snapshot(uint32_t sq, uint64_t *out, uint32_t n, uint8_t *log, uint32_t max) */
  nvme_sq_snapshot: {
    parameters: ["u32", "buffer", "u32", "buffer", "u32"],
    result: "i32",
  },
  /** int nvme_ctrl_regs_snapshot(uint32_t h, uint64_t *out, uint32_t n) */
  nvme_ctrl_regs_snapshot: {
    parameters: ["u32", "buffer", "u32"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;
