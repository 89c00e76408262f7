package org.qoft4j.core.memory;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import java.util.function.Supplier;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;

/**
 * The project's native-memory policy in one place (docs/DESIGN.md, "Memory policy"). libtorch tensors live outside
 * the Java heap and the garbage collector does not see their size, so every native allocation belongs to a
 * {@link PointerScope} that frees it when the scope closes:
 * <ul>
 *   <li>each training step, evaluation batch and generated token runs in a scope of its own;</li>
 *   <li>inside them, a unit of work whose intermediates are large and short-lived — one decoder layer, whose
 *       4-bit weights are dequantized for it — runs in a nested scope via {@link #scoped}: its intermediates are
 *       freed when it returns, its result is handed to the enclosing scope;</li>
 *   <li>long-lived tensors (weights, adapters, optimizer state) are {@code retainReference()}d by their owner and
 *       released by its {@code close()};</li>
 *   <li>after a phase that freed many large blocks (quantize-on-load), {@link #releaseFreed()} gives them back to
 *       the operating system.</li>
 * </ul>
 */
public final class NativeMemory {
    private static final Function MALLOC_TRIM = mallocTrim();

    private NativeMemory() {}

    /**
     * Runs {@code body} in a PointerScope of its own: everything it allocates is freed on return except its result
     * (may be null), which the scope enclosing this call then owns — or, with no enclosing scope, the caller.
     */
    public static <T extends Pointer> T scoped(Supplier<T> body) {
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope own = new PointerScope()) {
            T result = body.get();
            if (result != null) {
                if (outer != null) outer.attach(result);
                else own.detach(result);
            }
            return result;
        }
    }

    /**
     * Returns freed native heap memory to the operating system (glibc's {@code malloc_trim(0)}); a no-op where the C
     * library has no such function. glibc raises its mmap threshold as large blocks are freed, after which freed
     * tensors stay resident in a fragmented heap: loading a quantized model tensor by tensor would otherwise keep
     * roughly the full-precision model's worth of freed memory resident.
     */
    public static void releaseFreed() {
        Function trim = MALLOC_TRIM;
        if (trim != null) trim.invokeInt(new Object[] {0});
    }

    private static Function mallocTrim() {
        try {
            return NativeLibrary.getInstance("c").getFunction("malloc_trim");
        } catch (UnsatisfiedLinkError e) {
            return null; // not glibc
        }
    }
}
