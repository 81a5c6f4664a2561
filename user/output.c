// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Text and Prometheus renderings of the report objects built in report.c. */
#include <errno.h>
#include <string.h>
#include "report.h"

/* A cell of text from any JSON scalar: "-" for null. */
static const char *cell(json_t *v, char *buf, size_t len)
{
	if (!v || json_is_null(v))
		return "-";
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%.1f", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
	else
		snprintf(buf, len, "...");
	return buf;
}

struct col {
	const char *head, *key;
};

static void table(FILE *f, json_t *rows, const struct col *cols, size_t ncols)
{
	size_t w[32] = { 0 }, i, c;
	char buf[64];
	json_t *row;

	for (c = 0; c < ncols; c++)
		w[c] = strlen(cols[c].head);
	json_array_foreach(rows, i, row)
		for (c = 0; c < ncols; c++) {
			size_t l = strlen(cell(json_object_get(row, cols[c].key), buf, sizeof(buf)));

			if (l > w[c])
				w[c] = l;
		}
	for (c = 0; c < ncols; c++)
		fprintf(f, "%-*s%c", c + 1 < ncols ? (int)w[c] : 0, cols[c].head,
			c + 1 < ncols ? ' ' : '\n');
	json_array_foreach(rows, i, row)
		for (c = 0; c < ncols; c++)
			fprintf(f, "%-*s%c", c + 1 < ncols ? (int)w[c] : 0,
				cell(json_object_get(row, cols[c].key), buf, sizeof(buf)),
				c + 1 < ncols ? ' ' : '\n');
}

/* The SAs with the text of their WHY column: the path's reason, then a per-CPU SA's. */
static json_t *sa_rows(json_t *sas)
{
	json_t *rows = json_array(), *sa, *row;
	char why[512];
	size_t i;

	json_array_foreach(sas, i, sa) {
		const char *path = json_string_value(json_object_get(sa, "path_reason"));
		const char *pcpu = json_string_value(json_object_get(sa, "pcpu_reason"));

		if (!rows || !(row = json_copy(sa))) {
			json_decref(rows);
			return NULL;
		}
		snprintf(why, sizeof(why), "%s%s%s", path ? path : "-", pcpu ? "; per-CPU SA: " : "",
			 pcpu ? pcpu : "");
		json_object_set_new(row, "why_text", json_string(why));
		json_array_append_new(rows, row);
	}
	return rows;
}

void xprint_sa_table(FILE *f, json_t *sas)
{
	static const struct col cols[] = {
		{ "DIR", "dir" }, { "SRC", "src" }, { "DST", "dst" }, { "SPI", "spi" },
		{ "PROTO", "proto" }, { "ENCAP", "encap" }, { "MODE", "mode" },
		{ "OFFLOAD", "offload_mode" }, { "DEV", "offload_dev" }, { "PATH", "path" },
		{ "CPU", "cpu" }, { "PCPU", "pcpu" }, { "FP-PACKETS", "fastpath_packets" },
		{ "FP-BYTES", "fastpath_bytes" }, { "AUTH-PACKETS", "auth_packets" },
		{ "AUTH-BYTES", "auth_bytes" },
		{ "K-PACKETS", "kernel_packets" }, { "K-BYTES", "kernel_bytes" },
		{ "MIRROR", "mirror" }, { "WHY", "why_text" },
	};
	json_t *rows;

	if (!json_array_size(sas)) {
		fprintf(f, "no SAs\n");
		return;
	}
	rows = sa_rows(sas);
	table(f, rows ? rows : sas, cols, sizeof(cols) / sizeof(cols[0]));
	json_decref(rows);
}

static void block(FILE *f, json_t *o, int indent)
{
	const char *k;
	json_t *v;
	char buf[64];

	json_object_foreach(o, k, v) {
		if (json_is_object(v)) {
			fprintf(f, "%*s%s:\n", indent, "", k);
			block(f, v, indent + 2);
		} else if (json_is_array(v)) {
			size_t i;
			json_t *e;

			fprintf(f, "%*s%s:", indent, "", k);
			if (!json_array_size(v))
				fprintf(f, " -");
			json_array_foreach(v, i, e) {
				if (json_is_object(e)) {
					fprintf(f, "\n%*s[%zu]\n", indent + 2, "", i);
					block(f, e, indent + 4);
				} else {
					fprintf(f, " %s", cell(e, buf, sizeof(buf)));
				}
			}
			if (!json_array_size(v) || !json_is_object(json_array_get(v, 0)))
				fprintf(f, "\n");
		} else {
			fprintf(f, "%*s%s: %s\n", indent, "", k, cell(v, buf, sizeof(buf)));
		}
	}
}

void xprint_blocks(FILE *f, json_t *arr, const char *title_key)
{
	size_t i;
	json_t *o;
	char buf[64];

	if (!json_array_size(arr))
		fprintf(f, "none\n");
	json_array_foreach(arr, i, o) {
		if (i)
			fprintf(f, "\n");
		if (title_key)
			fprintf(f, "%s\n", cell(json_object_get(o, title_key), buf, sizeof(buf)));
		block(f, o, 2);
	}
}

/* The interface's state, as a warning after its name ("" when all is well). */
static const char *state_text(json_t *i)
{
	const char *state = json_string_value(json_object_get(i, "state"));

	if (!state || !strcmp(state, "ok"))
		return "";
	if (!strcmp(state, "down"))
		return " DOWN";
	if (!strcmp(state, "degraded"))
		return " DEGRADED (detach and attach again)";
	if (!json_is_true(json_object_get(i, "xdp_prog_exists")))
		return " GONE";
	return json_is_true(json_object_get(i, "dispatcher")) ?
	       " GONE (xoff's XDP program still exists: moved to another namespace, or held "
	       "by libxdp's pins)" :
	       " GONE (xoff's XDP program still exists: moved to another namespace?)";
}

void xprint_status(FILE *f, json_t *st)
{
	json_t *d = json_object_get(st, "daemon"), *m = json_object_get(st, "maps");
	json_t *ifs = json_object_get(st, "interfaces"), *i, *v;
	char a[64], b[64];
	size_t k;

	fprintf(f, "pin dir: %s (%s)\n", json_string_value(json_object_get(st, "pin_dir")),
		json_is_true(json_object_get(st, "loaded")) ? "maps pinned" : "nothing pinned");
	if (json_is_true(json_object_get(d, "running")))
		fprintf(f, "daemon: running, pid %s, last sync %s s ago, last mirror sweep %s s ago\n",
			cell(json_object_get(d, "pid"), a, sizeof(a)),
			cell(json_object_get(d, "last_sync_age_s"), b, sizeof(b)),
			cell(json_object_get(d, "last_mirror_age_s"), a + 32, 32));
	else
		fprintf(f, "daemon: not running (maps change only on attach; start xoffctl run)\n");
	if (!json_is_true(json_object_get(st, "loaded"))) {
		fprintf(f, "maps: none\n");
	} else {
		fprintf(f, "maps: SAs %s/%s, selectors %s/%s, steering CPUs",
			cell(json_object_get(json_object_get(m, "sas"), "entries"), a, 16),
			cell(json_object_get(json_object_get(m, "sas"), "max"), a + 16, 16),
			cell(json_object_get(json_object_get(m, "selectors"), "entries"), b, 16),
			cell(json_object_get(json_object_get(m, "selectors"), "max"), b + 16, 16));
		json_array_foreach(json_object_get(m, "steering_cpus"), k, v)
			fprintf(f, "%s%lld", k ? "," : " ", (long long)json_integer_value(v));
		fprintf(f, "%s\n", json_array_size(json_object_get(m, "steering_cpus")) ? "" :
										   " none");
	}
	if (!json_array_size(ifs))
		fprintf(f, "interfaces: none attached\n");
	json_array_foreach(ifs, k, i) {
		const char *dev = json_string_value(json_object_get(i, "dev"));
		const char *as = json_string_value(json_object_get(i, "attached_as"));

		fprintf(f, "%s (ifindex %lld", dev,
			(long long)json_integer_value(json_object_get(i, "ifindex")));
		if (as && dev && strcmp(as, dev))
			fprintf(f, ", attached as %s", as);
		fprintf(f, ")%s: xdp %s id %lld %s%s, ",
			state_text(i),
			json_string_value(json_object_get(i, "xdp_mode")),
			(long long)json_integer_value(json_object_get(i, "xdp_prog_id")),
			json_is_true(json_object_get(i, "dispatcher")) ? "in libxdp's dispatcher" :
									 "single program",
			json_is_true(json_object_get(i, "xdp_attached")) ? "" : " (NOT ATTACHED)");
		if (json_is_null(json_object_get(i, "tc_prog_id")))
			fprintf(f, "no tc, ");
		else
			fprintf(f, "tc egress id %lld%s, ",
				(long long)json_integer_value(json_object_get(i, "tc_prog_id")),
				json_is_true(json_object_get(i, "tc_attached")) ? "" : " (NOT ATTACHED)");
		if (!json_is_null(json_object_get(i, "tc_ingress_prog_id")))
			fprintf(f, "tc ingress id %lld, ",
				(long long)json_integer_value(json_object_get(i, "tc_ingress_prog_id")));
		else if (!json_is_null(json_object_get(i, "tc_prog_id")))
			fprintf(f, "tc ingress NOT ATTACHED (no authenticated counts), ");
		fprintf(f, "steer %s, unknown-spi %s, mirror %s\n",
			json_is_true(json_object_get(i, "steer")) ? "on" : "off",
			json_string_value(json_object_get(i, "unknown_spi")),
			json_string_value(json_object_get(i, "mirror")));
	}
}

void xprint_policies(FILE *f, json_t *pols)
{
	static const struct col cols[] = {
		{ "DIR", "dir" }, { "SRC", "src" }, { "DST", "dst" }, { "PROTO", "proto" },
		{ "PRIO", "priority" }, { "ACTION", "action" }, { "INDEX", "index" },
		{ "CPU-ACQUIRE", "cpu_acquire" },
		{ "OFFLOAD", "offload_mode" }, { "DEV", "offload_dev" },
		{ "XOFF-SLOT", "xoff_selector_slot" },
	};

	if (!json_array_size(pols)) {
		fprintf(f, "no policies\n");
		return;
	}
	table(f, pols, cols, sizeof(cols) / sizeof(cols[0]));
}

void xprint_stats(FILE *f, json_t *st)
{
	json_t *ifs = json_object_get(st, "interfaces"), *i, *x;
	const char *k, *prog;
	size_t n;

	json_array_foreach(ifs, n, i) {
		fprintf(f, "%s:\n", json_string_value(json_object_get(i, "dev")));
		for (prog = "xdp"; prog; prog = !strcmp(prog, "xdp") ? "tc" :
						 !strcmp(prog, "tc") ? "tc_ingress" : NULL) {
			json_object_foreach(json_object_get(i, prog), k, x) {
				json_t *pc = json_object_get(x, "per_cpu"), *c;
				size_t cpu;

				if (!json_integer_value(json_object_get(x, "total")))
					continue;
				fprintf(f, "  %-3s %-18s %12lld  per cpu:", prog, k,
					(long long)json_integer_value(json_object_get(x, "total")));
				json_array_foreach(pc, cpu, c)
					fprintf(f, " %lld", (long long)json_integer_value(c));
				fprintf(f, "\n");
			}
		}
	}
	if (!json_array_size(ifs))
		fprintf(f, "no interface attached\n");
	fprintf(f, "kernel (/proc/net/xfrm_stat):\n");
	json_object_foreach(json_object_get(st, "xfrm_stat"), k, x)
		if (json_integer_value(x))
			fprintf(f, "  %-28s %lld\n", k, (long long)json_integer_value(x));
}

/* ---- Prometheus ----------------------------------------------------------------------- */

void xprom_escape(char *out, size_t len, const char *in)
{
	size_t o = 0;

	if (!len)
		return;
	for (; in && *in && o + 3 < len; in++) {
		if (*in == '\\' || *in == '"') {
			out[o++] = '\\';
			out[o++] = *in;
		} else if (*in == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *in;
		}
	}
	out[o] = '\0';
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *str(json_t *o, const char *k, char *buf, size_t len)
{
	char tmp[128];

	xprom_escape(buf, len, cell(json_object_get(o, k), tmp, sizeof(tmp)));
	return buf;
}

static void sa_samples(FILE *f, json_t *sas, const char *metric, const char *key)
{
	char d[8], s[64], t[64], spi[16], p[8], pr[8], rq[16], mk[16];
	size_t i;
	json_t *o;

	/* proto, reqid and mark too: SAs that share SPI and destination stay apart. */
	json_array_foreach(sas, i, o)
		fprintf(f, "%s{dir=\"%s\",src=\"%s\",dst=\"%s\",spi=\"%s\",proto=\"%s\","
			"reqid=\"%s\",mark=\"%s\",path=\"%s\"} %lld\n",
			metric, str(o, "dir", d, sizeof(d)), str(o, "src", s, sizeof(s)),
			str(o, "dst", t, sizeof(t)), str(o, "spi", spi, sizeof(spi)),
			str(o, "proto", pr, sizeof(pr)), str(o, "reqid", rq, sizeof(rq)),
			str(o, "mark", mk, sizeof(mk)), str(o, "path", p, sizeof(p)),
			(long long)json_integer_value(json_object_get(o, key)));
}

int xreport_metrics(struct xview *v, FILE *f, struct xerr *e)
{
	json_t *st = NULL, *sas = NULL, *stats = NULL, *d, *m, *i, *x;
	const char *k, *mk;
	char dev[64], mode[16];
	size_t n;
	int err;

	if ((err = xreport_status(v, &st, e)) || (err = xreport_sas(v, NULL, &sas, e)) ||
	    (err = xreport_stats(v, &stats, e)))
		goto out;
	d = json_object_get(st, "daemon");
	m = json_object_get(st, "maps");
	family(f, "xoff_loaded", "gauge", "1 when xoff's maps are pinned.");
	fprintf(f, "xoff_loaded %d\n", json_is_true(json_object_get(st, "loaded")));
	family(f, "xoff_daemon_running", "gauge", "1 when the xoff daemon runs.");
	fprintf(f, "xoff_daemon_running %d\n", json_is_true(json_object_get(d, "running")));
	if (json_is_real(json_object_get(d, "last_mirror_age_s"))) {
		family(f, "xoff_daemon_last_mirror_age_seconds", "gauge",
		       "Seconds since the daemon's last counter mirror sweep.");
		fprintf(f, "xoff_daemon_last_mirror_age_seconds %.3f\n",
			json_real_value(json_object_get(d, "last_mirror_age_s")));
	}
	family(f, "xoff_mirror_writes_total", "counter",
	       "SA lifetime writes (XFRM_MSG_NEWAE) by the daemon.");
	fprintf(f, "xoff_mirror_writes_total %lld\n",
		(long long)json_integer_value(json_object_get(d, "mirror_writes")));
	family(f, "xoff_map_entries", "gauge", "Entries in xoff's maps.");
	json_object_foreach(m, mk, x)
		if (json_is_object(x))
			fprintf(f, "xoff_map_entries{map=\"%s\"} %lld\n", mk,
				(long long)json_integer_value(json_object_get(x, "entries")));
	family(f, "xoff_map_max_entries", "gauge", "Capacity of xoff's maps.");
	json_object_foreach(m, mk, x)
		if (json_is_object(x))
			fprintf(f, "xoff_map_max_entries{map=\"%s\"} %lld\n", mk,
				(long long)json_integer_value(json_object_get(x, "max")));
	family(f, "xoff_interface_attached", "gauge",
	       "1 when xoff's XDP program is attached to the interface as recorded.");
	json_array_foreach(json_object_get(st, "interfaces"), n, i)
		fprintf(f, "xoff_interface_attached{dev=\"%s\",xdp_mode=\"%s\"} %d\n",
			str(i, "dev", dev, sizeof(dev)), str(i, "xdp_mode", mode, sizeof(mode)),
			json_is_true(json_object_get(i, "xdp_attached")));
	family(f, "xoff_sa_fastpath_packets_total", "counter",
	       "Packets of an SA seen by the fast path, before authentication.");
	sa_samples(f, sas, "xoff_sa_fastpath_packets_total", "fastpath_packets");
	family(f, "xoff_sa_fastpath_bytes_total", "counter",
	       "Bytes of an SA seen by the fast path, before authentication (see xoffctl(8)).");
	sa_samples(f, sas, "xoff_sa_fastpath_bytes_total", "fastpath_bytes");
	family(f, "xoff_sa_auth_packets_total", "counter",
	       "Authenticated packets of an SA (decrypted, or plaintext handed to it).");
	sa_samples(f, sas, "xoff_sa_auth_packets_total", "auth_packets");
	family(f, "xoff_sa_auth_bytes_total", "counter",
	       "Authenticated bytes of an SA, as the kernel counts them (see xoffctl(8)).");
	sa_samples(f, sas, "xoff_sa_auth_bytes_total", "auth_bytes");
	family(f, "xoff_sa_kernel_packets_total", "counter", "Packets in the SA's kernel curlft.");
	sa_samples(f, sas, "xoff_sa_kernel_packets_total", "kernel_packets");
	family(f, "xoff_sa_kernel_bytes_total", "counter", "Bytes in the SA's kernel curlft.");
	sa_samples(f, sas, "xoff_sa_kernel_bytes_total", "kernel_bytes");
	family(f, "xoff_reason_packets_total", "counter",
	       "Packets per reason, interface, program and CPU.");
	json_array_foreach(json_object_get(stats, "interfaces"), n, i) {
		const char *prog;

		str(i, "dev", dev, sizeof(dev));
		for (prog = "xdp"; prog; prog = strcmp(prog, "xdp") ? NULL : "tc")
			json_object_foreach(json_object_get(i, prog), k, x) {
				json_t *c;
				size_t cpu;

				json_array_foreach(json_object_get(x, "per_cpu"), cpu, c)
					fprintf(f, "xoff_reason_packets_total{dev=\"%s\",prog=\"%s\","
						"reason=\"%s\",cpu=\"%zu\"} %lld\n", dev, prog, k, cpu,
						(long long)json_integer_value(c));
			}
	}
	family(f, "xoff_kernel_xfrm_stat_total", "counter",
	       "The kernel's XFRM error counters (/proc/net/xfrm_stat).");
	json_object_foreach(json_object_get(stats, "xfrm_stat"), k, x)
		fprintf(f, "xoff_kernel_xfrm_stat_total{counter=\"%s\"} %lld\n", k,
			(long long)json_integer_value(x));
out:
	json_decref(st);
	json_decref(sas);
	json_decref(stats);
	return err;
}
