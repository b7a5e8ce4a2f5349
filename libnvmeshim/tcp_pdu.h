/* SPDX-License-Identifier: MIT */
/*
 * tcp_pdu.h - NVMe/TCP protocol data units: encoding and checking, no I/O.
 *
 * Every PDU starts with an 8-byte common header (type, flags, HLEN, PDO, PLEN);
 * an optional 4-byte header digest (CRC-32C of the HLEN header bytes) follows
 * the header, data starts at PDO (aligned to the peer's PDA), an optional data
 * digest (CRC-32C of the data) ends the PDU. Header lengths are fixed per type.
 * All multi-byte fields are little-endian.
 */
#ifndef NVMESHIM_TCP_PDU_H
#define NVMESHIM_TCP_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	TCP_ICREQ = 0x00,
	TCP_ICRESP = 0x01,
	TCP_H2C_TERM = 0x02,
	TCP_C2H_TERM = 0x03,
	TCP_CMD = 0x04,
	TCP_RSP = 0x05,
	TCP_H2C_DATA = 0x06,
	TCP_C2H_DATA = 0x07,
	TCP_R2T = 0x09,
};

/* common header flags */
#define TCP_F_HDGST 0x01
#define TCP_F_DDGST 0x02
#define TCP_F_LAST 0x04	   /* data PDUs: last of the transfer (of the R2T for H2C) */
#define TCP_F_SUCCESS 0x08 /* C2HData: the command succeeded, no response capsule follows */

/* fatal error status of a termination request */
#define TCP_FES_BAD_HEADER 0x01
#define TCP_FES_SEQUENCE 0x02
#define TCP_FES_HDGST 0x03
#define TCP_FES_RANGE 0x04
#define TCP_FES_LIMIT 0x05
#define TCP_FES_UNSUPPORTED 0x06

#define TCP_HLEN_IC 128
#define TCP_HLEN_CMD 72
#define TCP_HLEN_RSP 24
#define TCP_HLEN_DATA 24
#define TCP_HLEN_R2T 24
#define TCP_HLEN_TERM 24
#define TCP_MAX_HLEN 128
#define TCP_TERM_MAX_DATA 152 /* a termination request carries at most this much of the bad PDU */

/* The common header, decoded. */
struct tcp_hdr {
	uint8_t type, flags, hlen, pdo;
	uint32_t plen;
};

/* What one end agreed in the connection initialization exchange. */
struct tcp_params {
	bool hdgst, ddgst;
	uint32_t cpda;	     /* controller PDA: data in PDUs to the controller aligns to (cpda+1)*4 */
	uint32_t maxh2cdata; /* bytes per H2CData PDU */
};

/* A data-carrying PDU's header fields (C2HData, H2CData, R2T). */
struct tcp_data_hdr {
	uint16_t cid, ttag;
	uint32_t offset, length;
};

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/** tcp_hdr_decode() - the common header of @p (8 bytes). */
void tcp_hdr_decode(const uint8_t *p, struct tcp_hdr *h);

/**
 * tcp_icreq() - encode an ICReq (128 bytes) into @out.
 * @hpda: host PDA (0..31, dwords 0's based) @maxr2t: outstanding R2Ts per command, 0's based
 */
void tcp_icreq(uint8_t *out, bool hdgst, bool ddgst, uint8_t hpda, uint32_t maxr2t);

/**
 * tcp_icresp_parse() - check an ICResp (128 bytes) and take the parameters.
 * @p: the PDU
 * @hdgst, @ddgst: what the host asked for
 * @out: the agreed parameters
 * @why: filled with a message naming the bad field when the PDU is refused
 *
 * Return: 0, or TCP_FES_* of the problem.
 */
int tcp_icresp_parse(const uint8_t *p, bool hdgst, bool ddgst, struct tcp_params *out, char *why,
		     size_t whylen);

/**
 * tcp_check_hdr() - check a received common header against its type, the
 * agreed digests and the data limits, before the rest of the PDU is read.
 * @h: the header
 * @prm: the agreed parameters (NULL before the connection is initialized)
 * @why: a message naming the bad field
 *
 * Return: 0, or TCP_FES_* (the offset of the bad field in *@field).
 */
int tcp_check_hdr(const struct tcp_hdr *h, const struct tcp_params *prm, uint32_t *field,
		  char *why, size_t whylen);

/** tcp_hdr_len() - header bytes to read for @h: HLEN plus the header digest when present. */
static inline uint32_t tcp_hdr_len(const struct tcp_hdr *h)
{
	return h->hlen + ((h->flags & TCP_F_HDGST) ? 4u : 0u);
}

/** tcp_data_len() - data bytes of @h (0 when the PDU carries none). */
static inline uint32_t tcp_data_len(const struct tcp_hdr *h)
{
	uint32_t dg = (h->flags & TCP_F_DDGST) ? 4u : 0u;

	if (!h->pdo || h->plen < (uint32_t)h->pdo + dg)
		return 0;
	return h->plen - h->pdo - dg;
}

/** tcp_data_hdr_decode() - cid, ttag, offset and length of a C2HData, H2CData or R2T. */
void tcp_data_hdr_decode(const uint8_t *p, struct tcp_data_hdr *d);

/**
 * tcp_cmd_hdr() - encode the header of a CapsuleCmd carrying @sqe and @dlen
 * bytes of in-capsule data into @out (room for TCP_HLEN_CMD + 4 + pad bytes).
 * @cpda: the controller's PDA (the data starts aligned to it)
 *
 * Return: header bytes to send before the data (HLEN, digest, padding = PDO).
 */
uint32_t tcp_cmd_hdr(uint8_t *out, const uint8_t *sqe, uint32_t dlen, const struct tcp_params *prm);

/**
 * tcp_h2c_hdr() - encode an H2CData header for @dlen bytes at @offset of
 * command @cid (transfer tag @ttag) into @out.
 *
 * Return: header bytes to send before the data.
 */
uint32_t tcp_h2c_hdr(uint8_t *out, uint16_t cid, uint16_t ttag, uint32_t offset, uint32_t dlen,
		     bool last, const struct tcp_params *prm);

/**
 * tcp_term() - encode an H2CTermReq reporting @fes (field offset @fei) with up
 * to TCP_TERM_MAX_DATA bytes of the offending header @bad.
 *
 * Return: the PDU's length.
 */
uint32_t tcp_term(uint8_t *out, uint16_t fes, uint32_t fei, const uint8_t *bad, uint32_t badlen);

/** tcp_fes_name() - the fatal error status in words. */
const char *tcp_fes_name(uint32_t fes);

/** tcp_type_name() - "CapsuleResp", "C2HData", ...: a PDU type in words. */
const char *tcp_type_name(uint8_t type);

#endif
