package org.qoft4j.quant;

import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** Base for tests that make tensors: each test body runs inside its own PointerScope, freed afterwards. */
public abstract class ScopedTest {
    private PointerScope scope;

    @BeforeEach
    void openScope() {
        scope = new PointerScope();
    }

    @AfterEach
    void closeScope() {
        scope.close();
    }
}
