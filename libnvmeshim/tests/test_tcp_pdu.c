/* SPDX-License-Identifier: MIT */
/*
 * test_tcp_pdu.c - NVMe/TCP PDU encoding and the checks on what a target
 * sends: every header field a malformed PDU can get wrong is refused with the
 * fatal error status and field offset a termination request reports.
 */
#include <string.h>

#include "crc32c.h"
#include "tcp_pdu.h"
#include "unit.h"

static const struct tcp_params plain = { .hdgst = false, .ddgst = false, .cpda = 0,
					 .maxh2cdata = 131072 };
static const struct tcp_params digests = { .hdgst = true, .ddgst = true, .cpda = 0,
					   .maxh2cdata = 131072 };

static void icresp(uint8_t *p, uint8_t cpda, uint8_t dgst, uint32_t maxdata)
{
	memset(p, 0, 128);
	p[0] = TCP_ICRESP;
	p[2] = 128;
	put32(p + 4, 128);
	p[10] = cpda;
	p[11] = dgst;
	put32(p + 12, maxdata);
}

static int check(uint8_t type, uint8_t flags, uint8_t hlen, uint8_t pdo, uint32_t plen,
		 const struct tcp_params *prm, uint32_t *field)
{
	struct tcp_hdr h = { type, flags, hlen, pdo, plen };
	char why[200];

	*field = 0xff;
	return tcp_check_hdr(&h, prm, field, why, sizeof(why));
}

TEST(tcp_icreq_layout)
{
	uint8_t p[128];

	memset(p, 0xee, sizeof(p));
	tcp_icreq(p, true, false, 0, 0);
	CHECK_EQ(p[0], TCP_ICREQ);
	CHECK_EQ(p[1], 0);
	CHECK_EQ(p[2], 128);
	CHECK_EQ(p[3], 0);
	CHECK_EQ(get32(p + 4), 128);
	CHECK_EQ(get16(p + 8), 0); /* PFV 0 */
	CHECK_EQ(p[11], 1);	   /* header digest only */
	CHECK_EQ(get32(p + 12), 0);
	for (int i = 16; i < 128; i++)
		if (!CHECK_EQ(p[i], 0))
			break;
}

TEST(tcp_icresp_parse_ok_and_bad)
{
	uint8_t p[128];
	struct tcp_params prm;
	char why[200];

	icresp(p, 3, 3, 131072);
	CHECK_EQ(tcp_icresp_parse(p, true, true, &prm, why, sizeof(why)), 0);
	CHECK(prm.hdgst && prm.ddgst);
	CHECK_EQ(prm.cpda, 3);
	CHECK_EQ(prm.maxh2cdata, 131072);
	/* a digest the host did not ask for */
	CHECK_EQ(tcp_icresp_parse(p, false, true, &prm, why, sizeof(why)), TCP_FES_BAD_HEADER);
	CHECK(strstr(why, "DGST") != NULL);
	icresp(p, 0, 0, 131072);
	put16(p + 8, 1);
	CHECK_EQ(tcp_icresp_parse(p, false, false, &prm, why, sizeof(why)), TCP_FES_UNSUPPORTED);
	CHECK(strstr(why, "PFV") != NULL);
	icresp(p, 0, 0, 1000);
	CHECK_EQ(tcp_icresp_parse(p, false, false, &prm, why, sizeof(why)), TCP_FES_BAD_HEADER);
	CHECK(strstr(why, "MAXH2CDATA") != NULL);
	icresp(p, 32, 0, 131072);
	CHECK_EQ(tcp_icresp_parse(p, false, false, &prm, why, sizeof(why)), TCP_FES_BAD_HEADER);
	CHECK(strstr(why, "CPDA") != NULL);
	icresp(p, 0, 0, 131072);
	p[0] = TCP_RSP;
	CHECK_EQ(tcp_icresp_parse(p, false, false, &prm, why, sizeof(why)), TCP_FES_SEQUENCE);
	icresp(p, 0, 0, 131072);
	put32(p + 4, 129);
	CHECK_EQ(tcp_icresp_parse(p, false, false, &prm, why, sizeof(why)), TCP_FES_BAD_HEADER);
}

TEST(tcp_check_hdr_accepts_good_pdus)
{
	uint32_t f;

	CHECK_EQ(check(TCP_RSP, 0, 24, 0, 24, &plain, &f), 0);
	CHECK_EQ(check(TCP_R2T, 0, 24, 0, 24, &plain, &f), 0);
	CHECK_EQ(check(TCP_C2H_DATA, TCP_F_LAST | TCP_F_SUCCESS, 24, 24, 24 + 4096, &plain, &f), 0);
	CHECK_EQ(check(TCP_C2H_TERM, 0, 24, 0, 24 + 16, &plain, &f), 0);
	CHECK_EQ(check(TCP_ICRESP, 0, 128, 0, 128, NULL, &f), 0);
	/* with digests: header digest after the header, data digest after the data */
	CHECK_EQ(check(TCP_RSP, TCP_F_HDGST, 24, 0, 28, &digests, &f), 0);
	CHECK_EQ(check(TCP_C2H_DATA, TCP_F_HDGST | TCP_F_DDGST | TCP_F_LAST, 24, 28, 28 + 512 + 4,
		       &digests, &f), 0);
}

TEST(tcp_check_hdr_refuses_bad_pdus)
{
	uint32_t f;

	/* a type only a host sends, a reserved type */
	CHECK_EQ(check(TCP_CMD, 0, 72, 0, 72, &plain, &f), TCP_FES_BAD_HEADER);
	CHECK_EQ(f, 0);
	CHECK_EQ(check(TCP_H2C_DATA, 0, 24, 24, 100, &plain, &f), TCP_FES_BAD_HEADER);
	CHECK_EQ(check(0x08, 0, 24, 0, 24, &plain, &f), TCP_FES_BAD_HEADER);
	CHECK_EQ(check(0x7f, 0, 24, 0, 24, &plain, &f), TCP_FES_BAD_HEADER);
	/* sequence: data before ICResp, ICResp twice */
	CHECK_EQ(check(TCP_RSP, 0, 24, 0, 24, NULL, &f), TCP_FES_SEQUENCE);
	CHECK_EQ(check(TCP_ICRESP, 0, 128, 0, 128, &plain, &f), TCP_FES_SEQUENCE);
	/* HLEN */
	CHECK_EQ(check(TCP_RSP, 0, 23, 0, 23, &plain, &f), TCP_FES_BAD_HEADER);
	CHECK_EQ(f, 2);
	/* reserved flags, digest flags against what was agreed */
	CHECK_EQ(check(TCP_RSP, 0x10, 24, 0, 24, &plain, &f), TCP_FES_BAD_HEADER);
	CHECK_EQ(f, 1);
	CHECK_EQ(check(TCP_RSP, TCP_F_HDGST, 24, 0, 28, &plain, &f), TCP_FES_BAD_HEADER);
	CHECK_EQ(f, 1);
	CHECK_EQ(check(TCP_RSP, 0, 24, 0, 24, &digests, &f), TCP_FES_BAD_HEADER);
	CHECK_EQ(check(TCP_RSP, TCP_F_HDGST | TCP_F_DDGST, 24, 0, 28, &digests, &f),
		 TCP_FES_BAD_HEADER);
	CHECK_EQ(check(TCP_C2H_DATA, TCP_F_HDGST | TCP_F_LAST, 24, 28, 600, &digests, &f),
		 TCP_FES_BAD_HEADER); /* data digest missing */
	CHECK_EQ(check(TCP_RSP, TCP_F_LAST, 24, 0, 24, &plain, &f), TCP_FES_BAD_HEADER);
	CHECK_EQ(check(TCP_C2H_DATA, TCP_F_SUCCESS, 24, 24, 100, &plain, &f), TCP_FES_BAD_HEADER);
	CHECK_EQ(check(TCP_C2H_TERM, TCP_F_HDGST, 24, 0, 28, &plain, &f), TCP_FES_BAD_HEADER);
	/* PDO */
	CHECK_EQ(check(TCP_RSP, 0, 24, 8, 24, &plain, &f), TCP_FES_BAD_HEADER);
	CHECK_EQ(f, 3);
	CHECK_EQ(check(TCP_C2H_DATA, 0, 24, 16, 100, &plain, &f), TCP_FES_BAD_HEADER);
	CHECK_EQ(f, 3);
	CHECK_EQ(check(TCP_C2H_DATA, TCP_F_HDGST, 24, 24, 100, &digests, &f), TCP_FES_BAD_HEADER);
	/* PLEN */
	CHECK_EQ(check(TCP_RSP, 0, 24, 0, 25, &plain, &f), TCP_FES_BAD_HEADER);
	CHECK_EQ(f, 4);
	CHECK_EQ(check(TCP_C2H_DATA, 0, 24, 24, 24, &plain, &f), TCP_FES_BAD_HEADER);
	CHECK_EQ(f, 4);
	CHECK_EQ(check(TCP_C2H_DATA, 0, 24, 24, 0xffffffffu, &plain, &f), TCP_FES_LIMIT);
	CHECK_EQ(check(TCP_C2H_TERM, 0, 24, 0, 23 + 200, &plain, &f), TCP_FES_BAD_HEADER);
	CHECK_EQ(check(TCP_ICRESP, 0, 128, 0, 130, NULL, &f), TCP_FES_BAD_HEADER);
}

TEST(tcp_cmd_hdr_layout)
{
	uint8_t sqe[64], out[256];
	uint32_t n;
	struct tcp_params p = digests;

	for (int i = 0; i < 64; i++)
		sqe[i] = (uint8_t)i;
	/* no data: header + header digest, PDO 0 */
	n = tcp_cmd_hdr(out, sqe, 0, &p);
	CHECK_EQ(n, 76);
	CHECK_EQ(out[0], TCP_CMD);
	CHECK_EQ(out[1], TCP_F_HDGST);
	CHECK_EQ(out[2], 72);
	CHECK_EQ(out[3], 0);
	CHECK_EQ(get32(out + 4), 76);
	CHECK(!memcmp(out + 8, sqe, 64));
	CHECK_EQ(get32(out + 72), crc32c(0, out, 72));
	/* in-capsule data aligned to CPDA 3 (16 bytes): PDO 80, PLEN with the data digest */
	p.cpda = 3;
	n = tcp_cmd_hdr(out, sqe, 4096, &p);
	CHECK_EQ(n, 80);
	CHECK_EQ(out[1], TCP_F_HDGST | TCP_F_DDGST);
	CHECK_EQ(out[3], 80);
	CHECK_EQ(get32(out + 4), 80 + 4096 + 4);
	for (uint32_t i = 76; i < 80; i++)
		CHECK_EQ(out[i], 0);
	/* without digests */
	n = tcp_cmd_hdr(out, sqe, 512, &plain);
	CHECK_EQ(n, 72);
	CHECK_EQ(out[1], 0);
	CHECK_EQ(out[3], 72);
	CHECK_EQ(get32(out + 4), 72 + 512);
}

TEST(tcp_h2c_and_term_layout)
{
	uint8_t out[256], bad[200];
	struct tcp_data_hdr d;
	uint32_t n;

	n = tcp_h2c_hdr(out, 0x1234, 0x55, 8192, 4096, true, &plain);
	CHECK_EQ(n, 24);
	CHECK_EQ(out[0], TCP_H2C_DATA);
	CHECK_EQ(out[1], TCP_F_LAST);
	CHECK_EQ(out[3], 24);
	CHECK_EQ(get32(out + 4), 24 + 4096);
	tcp_data_hdr_decode(out, &d);
	CHECK_EQ(d.cid, 0x1234);
	CHECK_EQ(d.ttag, 0x55);
	CHECK_EQ(d.offset, 8192);
	CHECK_EQ(d.length, 4096);
	n = tcp_h2c_hdr(out, 1, 2, 0, 100, false, &digests);
	CHECK_EQ(n, 28);
	CHECK_EQ(out[1], TCP_F_HDGST | TCP_F_DDGST);
	CHECK_EQ(get32(out + 4), 28 + 100 + 4);
	CHECK_EQ(get32(out + 24), crc32c(0, out, 24));
	/* a termination request carries at most 152 bytes of the offending PDU */
	memset(bad, 0xab, sizeof(bad));
	n = tcp_term(out, TCP_FES_RANGE, 12, bad, sizeof(bad));
	CHECK_EQ(n, 24 + 152);
	CHECK_EQ(out[0], TCP_H2C_TERM);
	CHECK_EQ(get16(out + 8), TCP_FES_RANGE);
	CHECK_EQ(get32(out + 10), 12);
	CHECK_EQ(out[24 + 151], 0xab);
	CHECK(!strcmp(tcp_fes_name(TCP_FES_RANGE), "Data Transfer Out of Range"));
	CHECK(!strcmp(tcp_type_name(TCP_C2H_DATA), "C2HData"));
	CHECK(!strcmp(tcp_type_name(0x42), "reserved"));
}
