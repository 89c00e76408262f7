package org.qoft4j.quant;

import org.qoft4j.core.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.qoft4j.quant.nf4.CodeTables;
import org.qoft4j.quant.nf4.DynamicMap8bit;

/** Quantized-weight records refuse inconsistent parts (as a corrupt checkpoint would give them) before any kernel runs. */
class WeightValidationTest extends ScopedTest {
    @Test
    void bnbParts() {
        Tensor packed = Tensors.ofBytes(new byte[32], 32, 1), absmax = Tensors.of(new float[1], 1), map = Tensors.of(CodeTables.nf4(), 16);
        fails("blocksize", () -> new Bnb4bitWeight(QuantType.NF4, 8, 8, ScalarType.Float, 0, packed, absmax, map, null));
        fails("36 bytes", () -> new Bnb4bitWeight(QuantType.NF4, 8, 9, ScalarType.Float, 64, packed, absmax, map, null));
        fails("absmax must have 2", () -> new Bnb4bitWeight(QuantType.NF4, 8, 8, ScalarType.Float, 32, packed, absmax, map, null));
        fails("quant_map", () -> new Bnb4bitWeight(QuantType.NF4, 8, 8, ScalarType.Float, 64, packed, absmax, Tensors.of(new float[8], 8), null));
        fails("quant_map", () -> new Bnb4bitWeight(QuantType.NF4, 8, 8, ScalarType.Float, 64, packed, absmax, map.to(ScalarType.Double), null));
        fails("not int4", () -> new Bnb4bitWeight(QuantType.INT4, 8, 8, ScalarType.Float, 64, packed, absmax, map, null));
        Bnb4bitWeight.NestedAbsmax nested = new Bnb4bitWeight.NestedAbsmax(Tensors.of(new float[1], 1), Tensors.of(DynamicMap8bit.values(), 256), 0f, 256);
        fails("U8 codes", () -> new Bnb4bitWeight(QuantType.NF4, 8, 8, ScalarType.Float, 64, packed, absmax, map, nested));
        fails("U8 codes", () -> new Bnb4bitWeight(QuantType.NF4, 8, 8, ScalarType.Float, 64, packed, Tensors.ofInts(new int[1], 1), map, nested));
        fails("nested_absmax must have 1", () -> new Bnb4bitWeight(QuantType.NF4, 8, 8, ScalarType.Float, 64, packed, Tensors.ofBytes(new byte[1], 1), map,
                new Bnb4bitWeight.NestedAbsmax(Tensors.of(new float[2], 2), Tensors.of(DynamicMap8bit.values(), 256), 0f, 256)));
        fails("nested_quant_map", () -> new Bnb4bitWeight.NestedAbsmax(Tensors.of(new float[1], 1), Tensors.of(new float[16], 16), 0f, 256));
        nested.close();
    }

    @Test
    void int4Parts() {
        Tensor qw = Tensors.ofInts(new int[16], 2, 8), qz = Tensors.ofInts(new int[2], 2, 1);
        Tensor sc = Tensors.of(new float[16], 2, 8).to(ScalarType.Half);
        fails("group", () -> new Int4Weight(8, 16, ScalarType.Float, 0, qw, qz, sc));
        fails("divisible", () -> new Int4Weight(8, 12, ScalarType.Float, 4, qw, qz, sc));
        fails("scales must be", () -> new Int4Weight(8, 16, ScalarType.Float, 8, qw, qz, sc.to(ScalarType.Float)));
        fails("qzeros must be", () -> new Int4Weight(8, 16, ScalarType.Float, 8, qw, Tensors.ofInts(new int[4], 4, 1), sc));
    }
}
