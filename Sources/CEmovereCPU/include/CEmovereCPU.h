#ifndef CEMOVERE_CPU_H
#define CEMOVERE_CPU_H

/// Makes the calling thread flush denormal results to zero and read denormal inputs as zero (x86-64: MXCSR FTZ and
/// DAZ; arm64: FPCR FZ). Denormal floats cost up to a hundred times a normal operation on many CPUs, and a trained
/// network's tiny activations and weights produce them; values below 1.2e-38 become 0. Returns the previous state,
/// for `emovere_restore_denormals`.
unsigned long long emovere_flush_denormals(void);

/// Restores the state returned by `emovere_flush_denormals`.
void emovere_restore_denormals(unsigned long long state);

#endif
