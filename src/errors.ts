// The one error type the library throws for a failure before the command runs, and errno
// names. Pure: the doctor and the map parser use it without the shim (whose steps have
// their words in zig/abi.zig; src/native.ts reads them).

/** Exit statuses of the process contract (DESIGN.md). */
export const Status = { usage: 64, failure: 125, cannotExecute: 126, notFound: 127 } as const;

/** Linux's errno names, index = value - 1 (the generic numbering, which x86_64 and aarch64
 *  share; "-" for the numbers that are aliases). */
const ERRNO_NAMES = (
  "EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EAGAIN ENOMEM EACCES EFAULT ENOTBLK " +
  "EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE ENOTTY ETXTBSY EFBIG ENOSPC ESPIPE " +
  "EROFS EMLINK EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG ENOLCK ENOSYS ENOTEMPTY ELOOP - ENOMSG EIDRM " +
  "ECHRNG EL2NSYNC EL3HLT EL3RST ELNRNG EUNATCH ENOCSI EL2HLT EBADE EBADR EXFULL ENOANO EBADRQC " +
  "EBADSLT - EBFONT ENOSTR ENODATA ETIME ENOSR ENONET ENOPKG EREMOTE ENOLINK EADV ESRMNT ECOMM EPROTO " +
  "EMULTIHOP EDOTDOT EBADMSG EOVERFLOW ENOTUNIQ EBADFD EREMCHG ELIBACC ELIBBAD ELIBSCN ELIBMAX " +
  "ELIBEXEC EILSEQ ERESTART ESTRPIPE EUSERS ENOTSOCK EDESTADDRREQ EMSGSIZE EPROTOTYPE ENOPROTOOPT " +
  "EPROTONOSUPPORT ESOCKTNOSUPPORT EOPNOTSUPP EPFNOSUPPORT EAFNOSUPPORT EADDRINUSE EADDRNOTAVAIL " +
  "ENETDOWN ENETUNREACH ENETRESET ECONNABORTED ECONNRESET ENOBUFS EISCONN ENOTCONN ESHUTDOWN " +
  "ETOOMANYREFS ETIMEDOUT ECONNREFUSED EHOSTDOWN EHOSTUNREACH EALREADY EINPROGRESS ESTALE EUCLEAN " +
  "ENOTNAM ENAVAIL EISNAM EREMOTEIO EDQUOT ENOMEDIUM EMEDIUMTYPE ECANCELED ENOKEY EKEYEXPIRED " +
  "EKEYREVOKED EKEYREJECTED EOWNERDEAD ENOTRECOVERABLE ERFKILL EHWPOISON"
).split(" ");

/** The symbolic name of an errno ("EACCES"), as Node's `code`; undefined for 0 or unknown. */
export function errnoName(errno: number): string | undefined {
  const name = ERRNO_NAMES[errno - 1];
  return name === undefined || name === "-" ? undefined : name;
}

export class ContainError extends Error {
  /** The errno's name ("EACCES", "ENOENT"), as Node's errors carry it; undefined without one. */
  readonly code: string | undefined;

  constructor(
    message: string,
    /** What failed, in the words of the message: "unshare user namespace", "set container UID map". */
    readonly step: string = "",
    /** The errno the kernel gave, or 0. */
    readonly errno: number = 0,
    /** The exit status the CLI reports for it. */
    readonly status: number = Status.failure,
  ) {
    super(message);
    this.name = "ContainError";
    this.code = errnoName(errno);
  }
}

/** The errno RESOLVE_BENEATH gives for a path that leads out of the root. */
export const EXDEV = 18;
