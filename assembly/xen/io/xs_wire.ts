// Mirrors xen/include/public/io/xs_wire.h: the XenStore wire protocol (message types, errors, ring page).
// See docs/abi-layer.md for the conventions.

/** XenStore message types (C `enum xsd_sockmsg_type`), the `type` of a struct xsd_sockmsg. */
export const XS_CONTROL: u32 = 0;
/** Old name of XS_CONTROL (`#define XS_DEBUG XS_CONTROL`). */
export const XS_DEBUG: u32 = 0;
/** Further XenStore message types, numbered as the enum does (20, once XS_RESTRICT, is unused). */
export const XS_DIRECTORY: u32 = 1;
export const XS_READ: u32 = 2;
export const XS_GET_PERMS: u32 = 3;
export const XS_WATCH: u32 = 4;
export const XS_UNWATCH: u32 = 5;
export const XS_TRANSACTION_START: u32 = 6;
export const XS_TRANSACTION_END: u32 = 7;
export const XS_INTRODUCE: u32 = 8;
export const XS_RELEASE: u32 = 9;
export const XS_GET_DOMAIN_PATH: u32 = 10;
export const XS_WRITE: u32 = 11;
export const XS_MKDIR: u32 = 12;
export const XS_RM: u32 = 13;
export const XS_SET_PERMS: u32 = 14;
export const XS_WATCH_EVENT: u32 = 15;
export const XS_ERROR: u32 = 16;
export const XS_IS_DOMAIN_INTRODUCED: u32 = 17;
export const XS_RESUME: u32 = 18;
export const XS_SET_TARGET: u32 = 19;
export const XS_RESET_WATCHES: u32 = 21;
export const XS_DIRECTORY_PART: u32 = 22;
/**
 * Reads the XenStore features available (to a domain); optional for a server.
 * @since 4.21
 */
export const XS_GET_FEATURE: u32 = 23;
/**
 * Sets the XenStore features available to a domain; optional for a server.
 * @since 4.21
 */
export const XS_SET_FEATURE: u32 = 24;
/**
 * Reads a global or per-domain XenStore quota; optional for a server.
 * @since 4.21
 */
export const XS_GET_QUOTA: u32 = 25;
/**
 * Sets a global or per-domain XenStore quota; optional for a server.
 * @since 4.21
 */
export const XS_SET_QUOTA: u32 = 26;
/**
 * Number of valid message types, as the 4.17 headers number it (23). Xen 4.21 inserted
 * XS_GET_FEATURE .. XS_SET_QUOTA before it, so from 4.21 on the C value is 27.
 */
export const XS_TYPE_COUNT: u32 = 23;
/** A message type guaranteed to stay invalid. */
export const XS_INVALID: u32 = 0xffff;

/** Flag strings of the XS_WRITE message (historic; current servers ignore them). */
export const XS_WRITE_NONE: string = "NONE";
export const XS_WRITE_CREATE: string = "CREATE";
export const XS_WRITE_CREATE_EXCL: string = "CREATE|EXCL";

/**
 * The errno column of C's `xsd_errors[]` (Linux numbers): an XS_ERROR reply carries the name
 * in the same row of `xsd_errors_errstring`, never the number.
 * @c xsd_errors[].errnum
 */
export const xsd_errors_errnum: StaticArray<i32> = [22, 13, 17, 21, 2, 12, 28, 5, 39, 38, 30, 16, 11, 106, 7, 1];

/**
 * The name column of C's `xsd_errors[]`: the strings an XS_ERROR reply carries.
 * @c xsd_errors[].errstring
 */
export const xsd_errors_errstring: StaticArray<string> = [
  "EINVAL", "EACCES", "EEXIST", "EISDIR", "ENOENT", "ENOMEM", "ENOSPC", "EIO",
  "ENOTEMPTY", "ENOSYS", "EROFS", "EBUSY", "EAGAIN", "EISCONN", "E2BIG", "EPERM",
];

/**
 * The header of every XenStore message; `len` bytes of payload (usually NUL-terminated
 * strings) follow it.
 * struct xsd_sockmsg { uint32_t type; uint32_t req_id; uint32_t tx_id; uint32_t len; };
 */
@unmanaged export class xsd_sockmsg {
  type: u32;
  req_id: u32;
  tx_id: u32;
  len: u32;
}
// size=16
if (offsetof<xsd_sockmsg>() != 16) ERROR("struct xsd_sockmsg: size must be 16");

/** Indices of the strings of an XS_WATCH_EVENT payload (C `enum xs_watch_type`). */
export const XS_WATCH_PATH: u32 = 0;
export const XS_WATCH_TOKEN: u32 = 1;

/** Size in bytes of each of the two rings of the XenStore page. */
export const XENSTORE_RING_SIZE: u32 = 1024;

/** C `XENSTORE_RING_IDX`: a free-running index into a XenStore ring. */
export type XENSTORE_RING_IDX = u32;

/** Reduces a free-running ring index to a byte offset within a XenStore ring. */
@inline export function MASK_XENSTORE_IDX(idx: XENSTORE_RING_IDX): XENSTORE_RING_IDX {
  return idx & (XENSTORE_RING_SIZE - 1);
}

/**
 * The shared XenStore page: a request ring, a response ring and their indices.
 * struct xenstore_domain_interface {
 *     char req[XENSTORE_RING_SIZE]; char rsp[XENSTORE_RING_SIZE];
 *     XENSTORE_RING_IDX req_cons, req_prod; XENSTORE_RING_IDX rsp_cons, rsp_prod;
 *     uint32_t server_features; uint32_t connection; uint32_t error;
 * };
 */
@unmanaged export class xenstore_domain_interface {
  @array(1024) req: u8;
  @array(1024) rsp: u8;
  req_cons: XENSTORE_RING_IDX;
  req_prod: XENSTORE_RING_IDX;
  rsp_cons: XENSTORE_RING_IDX;
  rsp_prod: XENSTORE_RING_IDX;
  server_features: u32;
  connection: u32;
  error: u32;
}
// size=2076
if (offsetof<xenstore_domain_interface>() != 2076) ERROR("struct xenstore_domain_interface: size must be 2076");

/** Largest payload of one XenStore message; exceeding it is a protocol violation. */
export const XENSTORE_PAYLOAD_MAX: u32 = 4096;

/** Longest absolute and relative paths a server accepts (longer ones get an error reply). */
export const XENSTORE_ABS_PATH_MAX: u32 = 3072;
export const XENSTORE_REL_PATH_MAX: u32 = 2048;

/** Bits of `server_features`: the ring can be reconnected; the `error` field is present. */
export const XENSTORE_SERVER_FEATURE_RECONNECTION: u32 = 1;
export const XENSTORE_SERVER_FEATURE_ERROR: u32 = 2;

/** Values of `connection`: steady state, or a reconnect in progress. */
export const XENSTORE_CONNECTED: u32 = 0;
export const XENSTORE_RECONNECT: u32 = 1;

/** Values of `error`: none, communication problem, invalid ring index, protocol violation. */
export const XENSTORE_ERROR_NONE: u32 = 0;
export const XENSTORE_ERROR_COMM: u32 = 1;
export const XENSTORE_ERROR_RINGIDX: u32 = 2;
export const XENSTORE_ERROR_PROTO: u32 = 3;
