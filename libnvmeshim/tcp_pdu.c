/* SPDX-License-Identifier: MIT */
/*
 * tcp_pdu.c - NVMe/TCP PDU encoding and checks (pure functions, unit tested).
 */
#include <stdio.h>
#include <string.h>

#include "crc32c.h"
#include "tcp_pdu.h"

void tcp_hdr_decode(const uint8_t *p, struct tcp_hdr *h)
{
	h->type = p[0];
	h->flags = p[1];
	h->hlen = p[2];
	h->pdo = p[3];
	h->plen = get32(p + 4);
}

static void hdr_encode(uint8_t *p, uint8_t type, uint8_t flags, uint8_t hlen, uint8_t pdo,
		       uint32_t plen)
{
	p[0] = type;
	p[1] = flags;
	p[2] = hlen;
	p[3] = pdo;
	put32(p + 4, plen);
}

void tcp_icreq(uint8_t *out, bool hdgst, bool ddgst, uint8_t hpda, uint32_t maxr2t)
{
	memset(out, 0, TCP_HLEN_IC);
	hdr_encode(out, TCP_ICREQ, 0, TCP_HLEN_IC, 0, TCP_HLEN_IC);
	put16(out + 8, 0); /* PFV 0: NVMe/TCP 1.0 */
	out[10] = hpda;
	out[11] = (uint8_t)((hdgst ? 1 : 0) | (ddgst ? 2 : 0));
	put32(out + 12, maxr2t);
}

#define WHY(...) snprintf(why, whylen, __VA_ARGS__)

int tcp_icresp_parse(const uint8_t *p, bool hdgst, bool ddgst, struct tcp_params *out, char *why,
		     size_t whylen)
{
	struct tcp_hdr h;
	uint8_t dgst;

	tcp_hdr_decode(p, &h);
	if (h.type != TCP_ICRESP)
		return WHY("PDU type 0x%02x (%s) where ICResp (0x01) was due", h.type,
			   tcp_type_name(h.type)), TCP_FES_SEQUENCE;
	if (h.hlen != TCP_HLEN_IC || h.plen != TCP_HLEN_IC || h.pdo)
		return WHY("ICResp HLEN %u, PDO %u, PLEN %u: 128, 0, 128 expected", h.hlen, h.pdo,
			   h.plen), TCP_FES_BAD_HEADER;
	if (get16(p + 8))
		return WHY("ICResp PFV %u: only 0 (NVMe/TCP 1.0) is supported", get16(p + 8)),
		       TCP_FES_UNSUPPORTED;
	if (p[10] > 31)
		return WHY("ICResp CPDA %u: allowed 0..31", p[10]), TCP_FES_BAD_HEADER;
	dgst = p[11];
	if (dgst & ~3u)
		return WHY("ICResp DGST 0x%02x has reserved bits", dgst), TCP_FES_BAD_HEADER;
	if (((dgst & 1) && !hdgst) || ((dgst & 2) && !ddgst))
		return WHY("ICResp enables a digest the host did not ask for (DGST 0x%02x)", dgst),
		       TCP_FES_BAD_HEADER;
	out->hdgst = dgst & 1;
	out->ddgst = (dgst & 2) != 0;
	out->cpda = p[10];
	out->maxh2cdata = get32(p + 12);
	if (out->maxh2cdata < 4096 || (out->maxh2cdata & 3))
		return WHY("ICResp MAXH2CDATA %u: at least 4096 and a multiple of 4 required",
			   out->maxh2cdata), TCP_FES_BAD_HEADER;
	return 0;
}

int tcp_check_hdr(const struct tcp_hdr *h, const struct tcp_params *prm, uint32_t *field,
		  char *why, size_t whylen)
{
	uint32_t hd = (h->flags & TCP_F_HDGST) ? 4 : 0, dd = (h->flags & TCP_F_DDGST) ? 4 : 0;
	uint8_t hlen;
	bool data = false;

	switch (h->type) {
	case TCP_ICRESP:
		hlen = TCP_HLEN_IC;
		if (prm) {
			*field = 0;
			return WHY("ICResp after the connection was initialized"), TCP_FES_SEQUENCE;
		}
		break;
	case TCP_C2H_TERM:
		hlen = TCP_HLEN_TERM;
		break;
	case TCP_RSP:
		hlen = TCP_HLEN_RSP;
		break;
	case TCP_C2H_DATA:
		hlen = TCP_HLEN_DATA;
		data = true;
		break;
	case TCP_R2T:
		hlen = TCP_HLEN_R2T;
		break;
	default:
		*field = 0;
		return WHY("PDU type 0x%02x (%s) is not one a controller sends", h->type,
			   tcp_type_name(h->type)), TCP_FES_BAD_HEADER;
	}
	if (h->type != TCP_ICRESP && !prm) {
		*field = 0;
		return WHY("%s before the connection was initialized", tcp_type_name(h->type)),
		       TCP_FES_SEQUENCE;
	}
	if (h->hlen != hlen) {
		*field = 2;
		return WHY("%s HLEN %u: %u expected", tcp_type_name(h->type), h->hlen, hlen),
		       TCP_FES_BAD_HEADER;
	}
	*field = 1;
	if (h->flags & 0xf0)
		return WHY("%s FLAGS 0x%02x has reserved bits", tcp_type_name(h->type), h->flags),
		       TCP_FES_BAD_HEADER;
	if (h->type == TCP_ICRESP || h->type == TCP_C2H_TERM) {
		if (h->flags)
			return WHY("%s FLAGS 0x%02x: none allowed", tcp_type_name(h->type), h->flags),
			       TCP_FES_BAD_HEADER;
		*field = 4;
		if (h->type == TCP_ICRESP && h->plen != TCP_HLEN_IC)
			return WHY("ICResp PLEN %u: 128 expected", h->plen), TCP_FES_BAD_HEADER;
		if (h->type == TCP_C2H_TERM &&
		    (h->plen < TCP_HLEN_TERM || h->plen > TCP_HLEN_TERM + TCP_TERM_MAX_DATA))
			return WHY("C2HTermReq PLEN %u: allowed %u..%u", h->plen, TCP_HLEN_TERM,
				   TCP_HLEN_TERM + TCP_TERM_MAX_DATA), TCP_FES_BAD_HEADER;
		return 0;
	}
	if (!!hd != prm->hdgst)
		return WHY("%s header digest flag %s, but header digests are %s",
			   tcp_type_name(h->type), hd ? "set" : "clear",
			   prm->hdgst ? "on" : "off"), TCP_FES_BAD_HEADER;
	if (dd && (!data || !prm->ddgst))
		return WHY("%s data digest flag set, but %s", tcp_type_name(h->type),
			   data ? "data digests are off" : "it carries no data"), TCP_FES_BAD_HEADER;
	if (data && prm->ddgst && !dd)
		return WHY("C2HData without its data digest (data digests are on)"),
		       TCP_FES_BAD_HEADER;
	if (!data && (h->flags & (TCP_F_LAST | TCP_F_SUCCESS)))
		return WHY("%s FLAGS 0x%02x: LAST/SUCCESS only belong to data PDUs",
			   tcp_type_name(h->type), h->flags), TCP_FES_BAD_HEADER;
	if (data && (h->flags & TCP_F_SUCCESS) && !(h->flags & TCP_F_LAST))
		return WHY("C2HData SUCCESS without LAST (FLAGS 0x%02x)", h->flags),
		       TCP_FES_BAD_HEADER;
	if (!data) {
		*field = 3;
		if (h->pdo)
			return WHY("%s PDO %u: 0 expected (no data)", tcp_type_name(h->type),
				   h->pdo), TCP_FES_BAD_HEADER;
		*field = 4;
		if (h->plen != hlen + hd)
			return WHY("%s PLEN %u: %u expected", tcp_type_name(h->type), h->plen,
				   hlen + hd), TCP_FES_BAD_HEADER;
		return 0;
	}
	*field = 3;
	if (h->pdo < hlen + hd)
		return WHY("C2HData PDO %u is inside its header (%u bytes)", h->pdo, hlen + hd),
		       TCP_FES_BAD_HEADER;
	*field = 4;
	if (h->plen <= (uint32_t)h->pdo + dd)
		return WHY("C2HData PLEN %u leaves no data after PDO %u", h->plen, h->pdo),
		       TCP_FES_BAD_HEADER;
	if (h->plen - h->pdo - dd > (1u << 30))
		return WHY("C2HData PLEN %u: more than 1 GiB of data", h->plen), TCP_FES_LIMIT;
	return 0;
}

void tcp_data_hdr_decode(const uint8_t *p, struct tcp_data_hdr *d)
{
	d->cid = get16(p + 8);
	d->ttag = get16(p + 10);
	d->offset = get32(p + 12);
	d->length = get32(p + 16);
}

/* the data offset for a header of @hlen (+ digest), aligned to the controller's PDA */
static uint32_t data_offset(uint32_t hlen, const struct tcp_params *prm)
{
	uint32_t hd = hlen + (prm->hdgst ? 4 : 0), align = (prm->cpda + 1) * 4;

	return (hd + align - 1) / align * align;
}

uint32_t tcp_cmd_hdr(uint8_t *out, const uint8_t *sqe, uint32_t dlen, const struct tcp_params *prm)
{
	uint32_t pdo = dlen ? data_offset(TCP_HLEN_CMD, prm) : 0;
	uint32_t hdr = dlen ? pdo : TCP_HLEN_CMD + (prm->hdgst ? 4 : 0);
	uint8_t flags = (uint8_t)((prm->hdgst ? TCP_F_HDGST : 0) |
				  (dlen && prm->ddgst ? TCP_F_DDGST : 0));

	memset(out, 0, hdr);
	hdr_encode(out, TCP_CMD, flags, TCP_HLEN_CMD, (uint8_t)pdo,
		   hdr + dlen + (dlen && prm->ddgst ? 4 : 0));
	memcpy(out + 8, sqe, 64);
	if (prm->hdgst)
		put32(out + TCP_HLEN_CMD, crc32c(0, out, TCP_HLEN_CMD));
	return hdr;
}

uint32_t tcp_h2c_hdr(uint8_t *out, uint16_t cid, uint16_t ttag, uint32_t offset, uint32_t dlen,
		     bool last, const struct tcp_params *prm)
{
	uint32_t pdo = data_offset(TCP_HLEN_DATA, prm);
	uint8_t flags = (uint8_t)((prm->hdgst ? TCP_F_HDGST : 0) | (prm->ddgst ? TCP_F_DDGST : 0) |
				  (last ? TCP_F_LAST : 0));

	memset(out, 0, pdo);
	hdr_encode(out, TCP_H2C_DATA, flags, TCP_HLEN_DATA, (uint8_t)pdo,
		   pdo + dlen + (prm->ddgst ? 4 : 0));
	put16(out + 8, cid);
	put16(out + 10, ttag);
	put32(out + 12, offset);
	put32(out + 16, dlen);
	if (prm->hdgst)
		put32(out + TCP_HLEN_DATA, crc32c(0, out, TCP_HLEN_DATA));
	return pdo;
}

uint32_t tcp_term(uint8_t *out, uint16_t fes, uint32_t fei, const uint8_t *bad, uint32_t badlen)
{
	if (badlen > TCP_TERM_MAX_DATA)
		badlen = TCP_TERM_MAX_DATA;
	memset(out, 0, TCP_HLEN_TERM);
	hdr_encode(out, TCP_H2C_TERM, 0, TCP_HLEN_TERM, 0, TCP_HLEN_TERM + badlen);
	put16(out + 8, fes);
	put32(out + 10, fei);
	if (badlen)
		memcpy(out + TCP_HLEN_TERM, bad, badlen);
	return TCP_HLEN_TERM + badlen;
}

const char *tcp_fes_name(uint32_t fes)
{
	switch (fes) {
	case TCP_FES_BAD_HEADER:
		return "Invalid PDU Header Field";
	case TCP_FES_SEQUENCE:
		return "PDU Sequence Error";
	case TCP_FES_HDGST:
		return "Header Digest Error";
	case TCP_FES_RANGE:
		return "Data Transfer Out of Range";
	case TCP_FES_LIMIT:
		return "Data Transfer Limit Exceeded";
	case TCP_FES_UNSUPPORTED:
		return "Unsupported Parameter";
	default:
		return "unknown fatal error";
	}
}

const char *tcp_type_name(uint8_t type)
{
	static const char *const names[] = { "ICReq",	    "ICResp",	   "H2CTermReq",
					     "C2HTermReq",  "CapsuleCmd",  "CapsuleResp",
					     "H2CData",	    "C2HData",	   "reserved",
					     "R2T" };

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "reserved";
}
