// The one error type the library throws for a failure before the command runs, and the
// words for the shim's steps. Pure: the doctor and the map parser use it without the shim.

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

/** Steps of zig/spawn.zig's Step enum, in the words of "Failed to ...". Index = value. */
const steps: Record<number, string> = {
  2: "set up stdio",
  3: "unshare user namespace",
  4: "become root in the user namespace",
  5: "unshare cgroup namespace",
  6: "unshare IPC namespace",
  7: "unshare network namespace",
  8: "unshare mount namespace",
  9: "unshare time namespace",
  10: "unshare UTS namespace",
  11: "unshare PID namespace",
  12: "fork",
  13: "run the -o helper",
  14: "run the -i helper",
  15: "make the mount namespace private",
  16: "bind new root filesystem",
  17: "enter new root filesystem",
  18: "create /dev in new root filesystem",
  19: "mount /dev tmpfs in new root filesystem",
  20: "mount /dev/pts in new root filesystem",
  21: "mount /dev/shm in new root filesystem",
  22: "bind the console into new /dev filesystem",
  23: "bind /dev/full into new /dev filesystem",
  24: "bind /dev/null into new /dev filesystem",
  25: "bind /dev/random into new /dev filesystem",
  26: "bind /dev/tty into new /dev filesystem",
  27: "bind /dev/urandom into new /dev filesystem",
  28: "bind /dev/zero into new /dev filesystem",
  29: "mount /proc in new root filesystem",
  30: "mount /sys in new root filesystem",
  31: "pivot into new root filesystem",
  32: "detach old root filesystem",
  33: "open console in container",
  34: "open the container's namespaces",
  35: "join user namespace",
  36: "join cgroup namespace",
  37: "join IPC namespace",
  38: "join network namespace",
  39: "join PID namespace",
  40: "join time namespace",
  41: "join UTS namespace",
  42: "join mount namespace",
  43: "enter container root directory",
  44: "execute",
  45: "start: its parent died",
  46: "change directory",
  47: "create /dev/pts in new root filesystem",
  48: "create /dev/shm in new root filesystem",
  49: "create /dev/tmp for the old root filesystem",
  50: "link /dev/ptmx, fd, stdin, stdout and stderr in new /dev filesystem",
  51: "create a device node in new /dev filesystem",
  52: "create /proc in new root filesystem",
  53: "create /sys in new root filesystem",
  54: "change directory to new root filesystem",
  55: "create a pipe",
  56: "allocate stacks for the child",
  57: "close file descriptors above 2",
  58: "start a new session for the console",
  59: "make the console the controlling terminal",
  60: "join a new session keyring",
  61: "refuse terminal input injection (seccomp)",
  62: "pass signals on to the child",
  63: "open the holder's /proc directory",
  64: "join the container's namespaces",
  70: "mount the tmpfs of the ephemeral root",
  71: "mount the overlay of the ephemeral root",
  72: "mount",
  73: "resolve mount target",
  74: "create mount target",
  75: "bind",
  76: "make read-only the bind on",
  77: "mount tmpfs on",
  78: "mount on",
  79: "enter working directory",
};

export const Step = { ready: 1, helperOutside: 13, helperInside: 14, exec: 44, mountIndex: 72, resolveMountTarget: 73, bindSource: 75, enterWorkingDirectory: 79 } as const;

/** The errno RESOLVE_BENEATH gives for a path that leads out of the root. */
export const EXDEV = 18;

export function stepText(step: number): string {
  return steps[step] ?? `complete step ${step}`;
}
