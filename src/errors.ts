// The one error type the library throws for a failure before the command runs, the exit
// statuses, and errno names (DESIGN.md, "Errors"). Pure: the doctor and the map parser
// use it without the shim (whose steps have their words in zig/abi.zig; src/native.ts
// reads them).

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

/** The errno values this code names, by name: the generic numbering of ERRNO_NAMES above
 *  (test/unit/errors.test.ts holds them together). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EACCES: 13,
  EBUSY: 16,
  EXDEV: 18,
  ENOTDIR: 20,
  EINVAL: 22,
  EPIPE: 32,
  ELIBBAD: 80,
  ECANCELED: 125,
} as const;

/** The symbolic name of an errno ("EACCES"), as Node's `code`; undefined for 0 or unknown. */
export function errnoName(errno: number): string | undefined {
  const name = ERRNO_NAMES[errno - 1];
  return name === undefined || name === "-" ? undefined : name;
}

/** What a ContainError says beyond its message; every field may be left out. */
export interface ContainErrorFields {
  /** What failed, in the words of the message: "unshare user namespace", "set container UID map". */
  step?: string | undefined;
  /** The shim's code for that step (Step in src/native.ts), when a report named it; else 0. */
  stepCode?: number | undefined;
  /** The errno the kernel gave, or 0. */
  errno?: number | undefined;
  /** The exit status the CLI reports for it. Default: Status.failure. */
  status?: number | undefined;
  /** The command that was being started, when there was one. */
  command?: string | undefined;
  /** What caused it (an AbortSignal's reason, an error of a lower layer). */
  cause?: unknown;
}

/** `error` as the library throws it: itself when it is a ContainError, else a ContainError
 *  with its message and it as the cause. */
export function asContainError(error: unknown): ContainError {
  return error instanceof ContainError ? error : new ContainError(String((error as Error)?.message ?? error), { cause: error });
}

/** The hint that follows a failure the kernel's rules explain, which the doctor checks. */
export const DOCTOR_HINT = " (run contain --doctor)";

/** The hint for a failure with `errno`: EPERM and EINVAL while setting up come from the
 *  kernel's rules (user namespaces, maps, mounts), which doctor checks. */
export function doctorHint(errno: number): string {
  return errno === Errno.EPERM || errno === Errno.EINVAL ? DOCTOR_HINT : "";
}

/** The one error the library throws for a failure before the command runs. */
export class ContainError extends Error {
  /** The errno's name ("EACCES", "ENOENT"), as Node's errors carry it; undefined without one. */
  readonly code: string | undefined;
  readonly step: string;
  readonly stepCode: number;
  readonly errno: number;
  readonly status: number;
  readonly command: string | undefined;

  constructor(message: string, fields: ContainErrorFields = {}) {
    super(message, "cause" in fields ? { cause: fields.cause } : undefined);
    this.name = "ContainError";
    this.step = fields.step ?? "";
    this.stepCode = fields.stepCode ?? 0;
    this.errno = fields.errno ?? 0;
    this.status = fields.status ?? Status.failure;
    this.command = fields.command;
    this.code = errnoName(this.errno);
  }
}
