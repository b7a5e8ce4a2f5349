/* SPDX-License-Identifier: MIT */
/*
 * pci.h - PCI config-space helpers built on a transport's cfg ops.
 */
#ifndef NVMESHIM_PCI_H
#define NVMESHIM_PCI_H

#include <stdint.h>

#include "transport.h"

#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_CACHE_LINE_SIZE 0x0c
#define PCI_STATUS 0x06
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_CAPABILITY_LIST 0x34
#define PCI_CAP_ID_MSIX 0x11
#define PCI_CAP_ID_EXP 0x10
#define PCI_CAP_ID_PM 0x01

#define PCI_MSIX_FLAGS 2
#define PCI_MSIX_FLAGS_ENABLE 0x8000
#define PCI_MSIX_FLAGS_MASKALL 0x4000
#define PCI_MSIX_TABLE 4

#define PCI_EXP_DEVCTL 8
#define PCI_EXP_DEVCTL_BCR_FLR 0x8000

/**
 * nvme_pci_find_cap() - offset of standard capability @id, or 0 when absent.
 */
uint32_t nvme_pci_find_cap(struct nvme_transport *t, uint8_t id);

/**
 * nvme_pci_cfg_written() - keep the transport's view consistent after a
 * config write done for the script: a write to the MSI-X Message Control word
 * turns t->nvec off/on with the Enable bit; a write of DevCtl with Initiate
 * FLR set counts as a reset of the function (t->epoch, MSI-X off until
 * pci_enable routes the vectors again).
 */
void nvme_pci_cfg_written(struct nvme_transport *t, uint32_t off, unsigned size, uint32_t val);

/** nvme_pci_reset_done() - record a reset of the function (@what: "FLR", ...). */
void nvme_pci_reset_done(struct nvme_transport *t, const char *what);

/**
 * nvme_pci_msix_route() - point MSI-X table entries 0..@nvec-1 at the words
 * t->irq_words (message data = vector + 1) and enable MSI-X. The table must
 * live in BAR0 (true for QEMU's model and for most SSDs).
 */
int nvme_pci_msix_route(struct nvme_transport *t, unsigned nvec);

/** nvme_pci_msix_mask() - set or clear the mask bit of one table entry. */
int nvme_pci_msix_mask(struct nvme_transport *t, unsigned vec, int mask);

#endif
