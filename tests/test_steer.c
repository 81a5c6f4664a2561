// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Steering for real: live frames redirected by xoff reach the CPU of their SA's entry. */
#define _GNU_SOURCE
#include <sched.h>
#include "fixture.h"
#include "bench.skel.h"

static struct bench_bpf *probe;

static void steer_setup(void)
{
	fx_setup();
	if (xoff_nr_cpus() < 2)
		cr_skip_test("SKIP: needs two CPUs");
	probe = bench_bpf__open_and_load();
	cr_assert_not_null(probe, "load the cpumap probe: %s", strerror(errno));
}

static void steer_teardown(void)
{
	bench_bpf__destroy(probe);
	fx_teardown();
}

static __u64 arrivals(__u32 cpu)
{
	__u64 n = 0;

	cr_assert_eq(bpf_map__lookup_elem(probe->maps.arrivals, &cpu, sizeof(cpu), &n,
					  sizeof(n), 0), 0);
	return n;
}

/* Send @n frames of @sa's SPI from @from_cpu with BPF_F_TEST_XDP_LIVE_FRAMES, so the
 * redirect really happens, and wait for them on @to_cpu. */
static void send_and_expect(uint32_t spi, int from_cpu, __u32 to_cpu, __u32 n)
{
	struct pkt_spec p = { .family = AF_INET, .proto = IPPROTO_ESP, .spi = spi, .payload = 100 };
	struct xdp_md ctx = { .ingress_ifindex = FX_LO };
	__u64 before[2] = { arrivals(0), arrivals(1) };
	uint8_t buf[PKT_MAX];
	cpu_set_t set;
	int i, err;

	ctx.data_end = pkt_build(&p, buf);
	CPU_ZERO(&set);
	CPU_SET(from_cpu, &set);
	cr_assert_eq(sched_setaffinity(0, sizeof(set), &set), 0);
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = ctx.data_end,
			    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = n,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

		err = bpf_prog_test_run_opts(bpf_program__fd(xoff_xdp_prog(fx)), &o);
		if (err && errno == EINVAL)
			cr_skip_test("SKIP: kernel without BPF_F_TEST_XDP_LIVE_FRAMES");
		cr_assert_eq(err, 0, "live test run: %s", strerror(errno));
	}
	/* The cpumap kthread runs the probe asynchronously. */
	for (i = 0; i < 100 && arrivals(to_cpu) - before[to_cpu] < n; i++)
		usleep(10000);
	cr_expect_eq(arrivals(to_cpu) - before[to_cpu], n, "SPI 0x%x: %llu of %u on CPU %u", spi,
		     (unsigned long long)(arrivals(to_cpu) - before[to_cpu]), n, to_cpu);
	cr_expect_eq(arrivals(!to_cpu) - before[!to_cpu], 0, "SPI 0x%x: frames on CPU %u", spi,
		     !to_cpu);
}

Test(steer, frames_run_on_the_sas_cpu, .init = steer_setup, .fini = steer_teardown)
{
	struct bpf_cpumap_val v = { .qsize = 256,
				    .bpf_prog.fd = bpf_program__fd(probe->progs.probe_cpu) };
	int cpus = xoff_map_fd(fx, XOFF_MAP_CPUS);
	struct xoff_counters c;
	__u32 cpu;

	for (cpu = 0; cpu < 2; cpu++)
		cr_assert_eq(bpf_map_update_elem(cpus, &cpu, &v, BPF_ANY), 0,
			     "cpumap entry with probe: %s", strerror(errno));
	fx_config(XOFF_UNKNOWN_PASS, 1, 0);

	/* Each SA crosses to its own CPU, from the other one. */
	send_and_expect(fx_sas[SA_V4_STEER1].spi, 0, 1, 200);
	send_and_expect(fx_sas[SA_V4_STEER0].spi, 1, 0, 200);

	cr_assert_eq(xoff_counters_read(fx, fx_sas[SA_V4_STEER1].v.slot, &c, NULL), 0);
	cr_expect_eq(c.packets, 200);
	cr_assert_eq(xoff_counters_read(fx, fx_sas[SA_V4_STEER0].v.slot, &c, NULL), 0);
	cr_expect_eq(c.packets, 200);
}
