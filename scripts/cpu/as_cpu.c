/* as_cpu.so: makes a process see this CPU without some of its x86-64 extensions, so that the
 * code paths of an older CPU (ONNX Runtime's, x264's, libav's, bwv's own) run natively, at this
 * machine's speed, where QEMU would only emulate them.
 *
 *   AS_CPU=avx2    no AVX-512 and no VNNI (AVX2 and FMA stay): a Haswell-to-Zen 3 class CPU
 *   AS_CPU=avx512  AVX-512 without VNNI (AVX512-VNNI and AVX-VNNI gone): a Skylake-SP class CPU
 *
 * Used through scripts/as-cpu.sh. It turns on Linux's CPUID faulting for the process
 * (arch_prctl(ARCH_SET_CPUID, 0), kept by every thread and child it starts, reset by exec): every
 * CPUID instruction then traps, and the handler below runs the real one and clears the
 * extensions' bits before the program sees them. Needs a CPU with CPUID faulting (the
 * `cpuid_fault` flag in /proc/cpuinfo). Programs test CPUID, not the instructions themselves,
 * so this is exactly what they choose on an older CPU; what it cannot change is the speed of the
 * instructions that remain (an AVX2 instruction here runs at this CPU's speed).
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static int drop_avx512;

static void real_cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
  syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
  syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
}

#define BIT(n) (1u << (n))

static void on_fault(int sig, siginfo_t *info, void *uc) {
  (void)info;
  greg_t *g = ((ucontext_t *)uc)->uc_mcontext.gregs;
  const unsigned char *ip = (const unsigned char *)g[REG_RIP];
  if (ip[0] != 0x0f || ip[1] != 0xa2) { /* not CPUID: a real fault */
    signal(sig, SIG_DFL);
    return;
  }
  unsigned leaf = (unsigned)g[REG_RAX], sub = (unsigned)g[REG_RCX], r[4];
  real_cpuid(leaf, sub, r);
  if (leaf == 7 && sub == 0) {
    r[2] &= ~BIT(11); /* AVX512_VNNI */
    if (drop_avx512) {
      /* EBX: F, DQ, IFMA, PF, ER, CD, BW, VL */
      r[1] &= ~(BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31));
      /* ECX: VBMI, VBMI2, BITALG, VPOPCNTDQ */
      r[2] &= ~(BIT(1) | BIT(6) | BIT(12) | BIT(14));
      /* EDX: 4VNNIW, 4FMAPS, VP2INTERSECT, FP16 */
      r[3] &= ~(BIT(2) | BIT(3) | BIT(8) | BIT(23));
    }
  } else if (leaf == 7 && sub == 1) {
    r[0] &= ~BIT(4); /* AVX-VNNI */
    if (drop_avx512)
      r[0] &= ~BIT(5); /* AVX512_BF16 */
  }
  g[REG_RAX] = r[0];
  g[REG_RBX] = r[1];
  g[REG_RCX] = r[2];
  g[REG_RDX] = r[3];
  g[REG_RIP] += 2;
}

__attribute__((constructor)) static void as_cpu_init(void) {
  const char *want = getenv("AS_CPU");
  if (!want || !*want)
    return;
  if (!strcmp(want, "avx2"))
    drop_avx512 = 1;
  else if (strcmp(want, "avx512")) {
    fprintf(stderr, "as_cpu: AS_CPU=%s: expected avx2 or avx512\n", want);
    _exit(2);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, NULL) != 0 || syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
    perror("as_cpu: CPUID faulting (needs the cpuid_fault CPU flag)");
    _exit(2);
  }
}
