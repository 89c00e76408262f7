package org.qoft4j.trainer;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.qoft4j.data.Sample;

/** seq-len beyond the model's max_position_embeddings is said at the start (issue 14, case 9). */
class StartWarningsTest {
    @Test
    void seqLenBeyondThePositionsTheModelKnowsIsWarned() {
        TrainConfig c = TinyLlama.config(Path.of("m"), Path.of("d"), Path.of("o")); // seq-len 64; the tiny model knows 256 positions
        List<Sample> samples = new ArrayList<>(TinyLlama.countUp(3, 40, 1));
        assertNull(StartWarnings.positions(c, TinyLlama.config(), samples));
        assertNull(StartWarnings.positions(TinyLlama.with(c, "seq-len=256"), TinyLlama.config(), samples));

        String none = StartWarnings.positions(TinyLlama.with(c, "seq-len=512"), TinyLlama.config(), samples);
        assertTrue(none.contains("seq-len 512 exceeds the model's max_position_embeddings 256: 0 of 3 training samples"), none);
        samples.addAll(TinyLlama.countUp(2, 300, 2));
        String two = StartWarnings.positions(TinyLlama.with(c, "seq-len=512"), TinyLlama.config(), samples);
        assertTrue(two.contains("2 of 5 training samples are longer than 256 tokens and get positions the model was never trained at"), two);
    }
}
