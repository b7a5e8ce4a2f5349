/**
 * Names of log pages and features by identifier (NVMe Base Specification),
 * the one table for messages, the cmdlog viewer and the CLI.
 *
 * ```ts
 * import { FEATURES, LOG_PAGES } from "./names.ts";
 * console.log(FEATURES[0x07], LOG_PAGES[0x02]); // "Number of Queues" "SMART / Health Information"
 * ```
 *
 * @module
 */

/**
 * Log page names by identifier.
 *
 * ```ts
 * LOG_PAGES[0x02]; // "SMART / Health Information"
 * ```
 */
export const LOG_PAGES: Readonly<Record<number, string>> = {
  0x01: "Error Information",
  0x02: "SMART / Health Information",
  0x03: "Firmware Slot Information",
  0x04: "Changed Namespace List",
  0x05: "Commands Supported and Effects",
  0x06: "Device Self-test",
  0x07: "Telemetry Host-Initiated",
  0x08: "Telemetry Controller-Initiated",
  0x09: "Endurance Group Information",
  0x0a: "Predictable Latency Per NVM Set",
  0x0b: "Predictable Latency Event Aggregate",
  0x0c: "Asymmetric Namespace Access",
  0x0d: "Persistent Event Log",
  0x0f: "Endurance Group Event Aggregate",
  0x10: "Media Unit Status",
  0x11: "Supported Capacity Configuration List",
  0x12: "Feature Identifiers Supported and Effects",
  0x13: "NVMe-MI Commands Supported and Effects",
  0x14: "Command and Feature Lockdown",
  0x15: "Boot Partition",
  0x16: "Rotational Media Information",
  0x70: "Discovery",
  0x80: "Reservation Notification",
  0x81: "Sanitize Status",
  0xbe: "Changed Zone List",
};

/**
 * Feature names by identifier.
 *
 * ```ts
 * FEATURES[0x07]; // "Number of Queues"
 * ```
 */
export const FEATURES: Readonly<Record<number, string>> = {
  0x01: "Arbitration",
  0x02: "Power Management",
  0x03: "LBA Range Type",
  0x04: "Temperature Threshold",
  0x05: "Error Recovery",
  0x06: "Volatile Write Cache",
  0x07: "Number of Queues",
  0x08: "Interrupt Coalescing",
  0x09: "Interrupt Vector Configuration",
  0x0a: "Write Atomicity Normal",
  0x0b: "Asynchronous Event Configuration",
  0x0c: "Autonomous Power State Transition",
  0x0d: "Host Memory Buffer",
  0x0e: "Timestamp",
  0x0f: "Keep Alive Timer",
  0x10: "Host Controlled Thermal Management",
  0x11: "Non-Operational Power State Config",
  0x12: "Read Recovery Level Config",
  0x13: "Predictable Latency Mode Config",
  0x14: "Predictable Latency Mode Window",
  0x16: "Host Behavior Support",
  0x17: "Sanitize Config",
  0x18: "Endurance Group Event Configuration",
  0x19: "I/O Command Set Profile",
  0x1a: "Spinup Control",
  0x7d: "Enhanced Controller Metadata",
  0x7e: "Controller Metadata",
  0x7f: "Namespace Metadata",
  0x80: "Software Progress Marker",
  0x81: "Host Identifier",
  0x82: "Reservation Notification Mask",
  0x83: "Reservation Persistence",
  0x84: "Namespace Write Protection Config",
};
