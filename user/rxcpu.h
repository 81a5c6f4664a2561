/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The CPUs that run a device's receive path, from the affinity of its MSI IRQs: the
 * default RX CPUs of placement (sync.h, xsync_cfg.rx_cpus). */
#ifndef XOFF_RXCPU_H
#define XOFF_RXCPU_H

#include <stddef.h>
#include <linux/types.h>

/*
 * The CPUs the MSI IRQs of device @dev are delivered to: SYSROOT/sys/class/net/DEV/device/
 * msi_irqs (for virtio, whose net device's "device" is the virtio device under the PCI
 * one, its parent's msi_irqs), each IRQ's SYSROOT/proc/irq/N/effective_affinity_list
 * within its smp_affinity_list, else its smp_affinity_list. Only IRQs with a handler
 * count (a directory under /proc/irq/N): one allocated but not requested, as a queue
 * vector while the device is down, points at the first online CPU. Where some IRQ's name
 * says it serves receive queues ("rx", "input", "comp", "virtqueues": eth0-TxRx-0,
 * virtio0-input.0, mlx5_comp0) only those count, so that a TX, config or misc vector does
 * not make its CPU an RX CPU; else all, when all are requested. @ifindex: @dev's index
 * in this process' network namespace, 0 to look it up by name.
 * @sysroot NULL or "": the running system (tests: a fake tree).
 *
 * Returns the number of CPUs written to @cpus, ascending and each once; 0 when the
 * device has no MSI IRQs (veth and other virtual devices: no IRQ tells where they
 * receive), or none named for receive while some is not requested (the device is down).
 * -EXDEV: SYSROOT/sys shows another network namespace (its DEV/ifindex is not @ifindex),
 * where @dev receives is not known. -ENODEV: no such device; -EINVAL: not a device name;
 * -E2BIG: more than @max CPUs.
 */
int xoff_rx_cpus(const char *sysroot, const char *dev, unsigned int ifindex, __u16 *cpus,
		 unsigned int max);

/* Adds @add[0..@nadd) to @cpus[0..*@n), kept ascending and each once. -E2BIG past @max. */
int xoff_cpus_union(__u16 *cpus, unsigned int *n, unsigned int max, const __u16 *add,
		    unsigned int nadd);

/* @cpus (ascending) as the kernel lists CPUs, "0-3,6", into @buf; "" for none. Cut short
 * with "..." when @len is too small. */
void xoff_cpus_str(const __u16 *cpus, unsigned int n, char *buf, size_t len);

#endif /* XOFF_RXCPU_H */
