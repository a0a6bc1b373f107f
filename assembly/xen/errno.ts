// Mirrors xen/include/public/errno.h: the XEN_E* error numbers hypercalls return (negated).
// See docs/abi-layer.md for the conventions. Values are positive, as in C's `enum xen_errno`;
// a failing hypercall returns `-XEN_Exxx`. XEN_EINTR and XEN_ERESTART are Xen-internal only.

/** Operation not permitted. */
export const XEN_EPERM: i32 = 1;
/** No such file or directory. */
export const XEN_ENOENT: i32 = 2;
/** No such process. */
export const XEN_ESRCH: i32 = 3;
/** I/O error. */
export const XEN_EIO: i32 = 5;
/** No such device or address. */
export const XEN_ENXIO: i32 = 6;
/** Arg list too long. */
export const XEN_E2BIG: i32 = 7;
/** Exec format error. */
export const XEN_ENOEXEC: i32 = 8;
/** Bad file number. */
export const XEN_EBADF: i32 = 9;
/** No child processes. */
export const XEN_ECHILD: i32 = 10;
/** Try again. */
export const XEN_EAGAIN: i32 = 11;
/** Operation would block; aliases EAGAIN. */
export const XEN_EWOULDBLOCK: i32 = 11;
/** Out of memory. */
export const XEN_ENOMEM: i32 = 12;
/** Permission denied. */
export const XEN_EACCES: i32 = 13;
/** Bad address. */
export const XEN_EFAULT: i32 = 14;
/** Device or resource busy. */
export const XEN_EBUSY: i32 = 16;
/** File exists. */
export const XEN_EEXIST: i32 = 17;
/** Cross-device link. */
export const XEN_EXDEV: i32 = 18;
/** No such device. */
export const XEN_ENODEV: i32 = 19;
/** Not a directory. */
export const XEN_ENOTDIR: i32 = 20;
/** Is a directory. */
export const XEN_EISDIR: i32 = 21;
/** Invalid argument. */
export const XEN_EINVAL: i32 = 22;
/** File table overflow. */
export const XEN_ENFILE: i32 = 23;
/** Too many open files. */
export const XEN_EMFILE: i32 = 24;
/** No space left on device. */
export const XEN_ENOSPC: i32 = 28;
/** Read-only file system. */
export const XEN_EROFS: i32 = 30;
/** Too many links. */
export const XEN_EMLINK: i32 = 31;
/** Math argument out of domain of func. */
export const XEN_EDOM: i32 = 33;
/** Math result not representable. */
export const XEN_ERANGE: i32 = 34;
/** Resource deadlock would occur. */
export const XEN_EDEADLK: i32 = 35;
/** Resource deadlock would occur; aliases EDEADLK. */
export const XEN_EDEADLOCK: i32 = 35;
/** File name too long. */
export const XEN_ENAMETOOLONG: i32 = 36;
/** No record locks available. */
export const XEN_ENOLCK: i32 = 37;
/** Function not implemented. */
export const XEN_ENOSYS: i32 = 38;
/** Directory not empty. */
export const XEN_ENOTEMPTY: i32 = 39;
/** No data available. */
export const XEN_ENODATA: i32 = 61;
/** Timer expired. */
export const XEN_ETIME: i32 = 62;
/** Not a data message. */
export const XEN_EBADMSG: i32 = 74;
/** Value too large for defined data type. */
export const XEN_EOVERFLOW: i32 = 75;
/** Illegal byte sequence. */
export const XEN_EILSEQ: i32 = 84;
/** Socket operation on non-socket. */
export const XEN_ENOTSOCK: i32 = 88;
/** Message too large. */
export const XEN_EMSGSIZE: i32 = 90;
/** Operation not supported on transport endpoint. */
export const XEN_EOPNOTSUPP: i32 = 95;
/** Address already in use. */
export const XEN_EADDRINUSE: i32 = 98;
/** Cannot assign requested address. */
export const XEN_EADDRNOTAVAIL: i32 = 99;
/** No buffer space available. */
export const XEN_ENOBUFS: i32 = 105;
/** Transport endpoint is already connected. */
export const XEN_EISCONN: i32 = 106;
/** Transport endpoint is not connected. */
export const XEN_ENOTCONN: i32 = 107;
/** Connection timed out. */
export const XEN_ETIMEDOUT: i32 = 110;
/** Connection refused. */
export const XEN_ECONNREFUSED: i32 = 111;
