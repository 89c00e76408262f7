package org.qoft4j.examples;

import java.nio.file.Path;
import org.qoft4j.cli.compare.CompareSpec;
import org.qoft4j.cli.compare.Comparison;
import org.qoft4j.cli.compare.ComparisonReport;
import org.qoft4j.cli.compare.Variant;

/**
 * QOFT vs QLoRA: the comparison {@code ./qoft4j compare} runs, through the Java API.
 *
 * <p>One model, one dataset, one seed and token budget; QOFT (OFTv2, b = 32, 5 Neumann terms, NF4 base) against
 * QLoRA (r = 16, alpha = 32, NF4 base). Each variant trains in its own JVM so that its peak memory is its own. Before
 * and after training both skills of the test-data model are measured: the new one ("shift") that the adapters learn
 * and the base one ("copy") that they should not forget. The report (a table, JSON and a chart of the loss curves)
 * goes to the output directory.
 *
 * <p>Run: {@code examples/run QoftVsQlora [STEPS] [OUT]} (defaults: 60 steps per variant, about 3 minutes on 2 cores;
 * {@code runs/qoft-vs-qlora-TIMESTAMP}). Add {@code Variant.OFT, Variant.LORA, Variant.OFT_V1} to
 * {@code withVariants} for the full-precision arms.
 */
public final class QoftVsQlora {
    public static void main(String[] args) {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 60;
        Path out = Path.of(args.length > 1 ? args[1] : "runs/qoft-vs-qlora-" + System.currentTimeMillis());

        // The bundled test data with the demo's budget; any training option can be added as key=value.
        CompareSpec spec = CompareSpec.testData()
                .withVariants(Variant.QOFT, Variant.QLORA)
                .with("steps=" + steps, "warmup=" + Math.min(5, steps - 1))
                .withMaxEvalExamples(50)
                .withOut(out);

        // Runs both variants (progress lines prefixed with the variant) and writes report.md / report.json / loss-curves.png.
        ComparisonReport report = Comparison.run(spec, System.out::println);

        System.out.println();
        System.out.print(report.table());
        report.ratios().forEach(System.out::println);
        System.out.println("report: " + out.toAbsolutePath().resolve(ComparisonReport.MARKDOWN));

        // Individual figures are there too, e.g. for your own checks:
        double qoftAccuracy = report.result(Variant.QOFT).after().get(0).accuracy();
        double qloraAccuracy = report.result(Variant.QLORA).after().get(0).accuracy();
        System.out.printf("new-skill accuracy after training: QOFT %.0f%%, QLoRA %.0f%%%n", 100 * qoftAccuracy, 100 * qloraAccuracy);
    }
}
