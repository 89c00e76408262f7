package org.qoft4j.trainer.dist;

import java.time.Duration;
import java.util.Locale;

/**
 * How a {@link DataParallelGroup} forms and behaves.
 *
 * @param backend           which c10d backend carries the collectives
 * @param joinTimeout       how long a rank waits for the master's store and for all ranks to join
 * @param collectiveTimeout how long one collective may take before it fails (a peer that hangs or vanished without
 *                          closing its sockets); a peer that dies outright (kill -9, OOM) fails the others at once,
 *                          because the kernel closes its sockets
 * @param faultReportWait   after a collective failed, how long this rank waits for the other ranks to report that
 *                          they are alive, to name the ranks that are not
 * @param bucketBytes       largest all-reduce bucket: gradients are flattened into buckets of at most this size (a
 *                          single larger tensor gets a bucket of its own)
 * @param glooThreads       Gloo's worker threads, which run asynchronous collectives (2 is c10d's default)
 */
public record DistOptions(Backend backend, Duration joinTimeout, Duration collectiveTimeout, Duration faultReportWait, long bucketBytes,
                          int glooThreads) {
    /** Default collective and join timeout: 2 minutes. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(2);
    /** Default bucket size: 25 MiB, as PyTorch DDP's {@code bucket_cap_mb}. */
    public static final long DEFAULT_BUCKET_BYTES = 25L << 20;

    /** The c10d backend. */
    public enum Backend {
        /** Gloo: CPU tensors, and CUDA tensors through host copies. Works everywhere. */
        GLOO,
        /** NCCL: CUDA tensors only; needs the gpu build (libtorch's CUDA natives with NCCL). */
        NCCL,
        /** NCCL when the tensors live on a CUDA device and the NCCL natives load, else Gloo. */
        AUTO;

        /** Parses "gloo", "nccl" or "auto" (any case). */
        public static Backend parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown distributed backend '" + s + "': expected gloo, nccl or auto");
            }
        }
    }

    public DistOptions {
        if (backend == null) throw new IllegalArgumentException("backend must be set");
        positive("joinTimeout", joinTimeout);
        positive("collectiveTimeout", collectiveTimeout);
        positive("faultReportWait", faultReportWait);
        if (bucketBytes < 1) throw new IllegalArgumentException("bucketBytes must be positive, got " + bucketBytes);
        if (glooThreads < 1) throw new IllegalArgumentException("glooThreads must be positive, got " + glooThreads);
    }

    /** Auto backend, 2-minute timeouts, 5 s to collect fault reports, 25 MiB buckets, 2 Gloo threads. */
    public static DistOptions defaults() {
        return new DistOptions(Backend.AUTO, DEFAULT_TIMEOUT, DEFAULT_TIMEOUT, Duration.ofSeconds(5), DEFAULT_BUCKET_BYTES, 2);
    }

    public DistOptions withBackend(Backend b) {
        return new DistOptions(b, joinTimeout, collectiveTimeout, faultReportWait, bucketBytes, glooThreads);
    }

    public DistOptions withJoinTimeout(Duration d) {
        return new DistOptions(backend, d, collectiveTimeout, faultReportWait, bucketBytes, glooThreads);
    }

    public DistOptions withCollectiveTimeout(Duration d) {
        return new DistOptions(backend, joinTimeout, d, faultReportWait, bucketBytes, glooThreads);
    }

    public DistOptions withFaultReportWait(Duration d) {
        return new DistOptions(backend, joinTimeout, collectiveTimeout, d, bucketBytes, glooThreads);
    }

    public DistOptions withBucketBytes(long bytes) {
        return new DistOptions(backend, joinTimeout, collectiveTimeout, faultReportWait, bytes, glooThreads);
    }

    private static void positive(String name, Duration d) {
        if (d == null || d.isNegative() || d.isZero()) throw new IllegalArgumentException(name + " must be a positive duration, got " + d);
    }
}
