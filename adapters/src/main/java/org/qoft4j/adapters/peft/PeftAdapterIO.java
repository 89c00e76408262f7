package org.qoft4j.adapters.peft;

import org.qoft4j.core.ParseErrors;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.qoft4j.core.HostReads;
import org.qoft4j.adapters.AdapterConfig;
import org.qoft4j.adapters.AdapterLayer;
import org.qoft4j.adapters.BlockSizes;
import org.qoft4j.adapters.CayleyConvention;
import org.qoft4j.adapters.LoraConfig;
import org.qoft4j.adapters.LoraLayer;
import org.qoft4j.adapters.OftAdapter;
import org.qoft4j.adapters.OftConfig;
import org.qoft4j.adapters.OftLayer;
import org.qoft4j.quant.linear.LinearLayer;
import org.qoft4j.core.AtomicFiles;
import org.qoft4j.core.DiskFullException;
import org.qoft4j.core.safetensors.DType;
import org.qoft4j.core.safetensors.SafetensorsFile;
import org.qoft4j.core.safetensors.SafetensorsWriter;
import org.qoft4j.core.safetensors.TensorInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * PEFT adapter directories: {@code adapter_config.json} + {@code adapter_model.safetensors}, with PEFT's keys
 * ({@code base_model.model.<module path>.oft_R.weight}, {@code ….lora_A.weight}, {@code ….lora_B.weight}), shapes,
 * dtypes (float32) and config fields, for OFT (PEFT ≥ 0.18 formula) and LoRA.
 *
 * <p>Exact-Cayley adapters: files hold PEFT's exact convention {@code (I - Q)(I + Q)^-1}. A layer using
 * {@link CayleyConvention#NEUMANN_CONSISTENT} is written with its vectors negated (which gives PEFT the same R) and
 * negated back on reading; layers built by {@link #read} use that convention.
 */
public final class PeftAdapterIO {
    private static final Logger LOG = LoggerFactory.getLogger(PeftAdapterIO.class);
    public static final String CONFIG_FILE = "adapter_config.json";
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    public static final String KEY_PREFIX = "base_model.model.";
    private static final List<String> SUFFIXES = List.of(OftAdapter.WEIGHT_KEY, LoraLayer.A_KEY, LoraLayer.B_KEY);
    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private PeftAdapterIO() {}

    /** PEFT's tensor key of one module's parameter, e.g. {@code base_model.model.model.layers.0.self_attn.q_proj.oft_R.weight}. */
    public static String key(String modulePath, String suffix) {
        return KEY_PREFIX + modulePath + "." + suffix;
    }

    /**
     * Writes the adapters of one model into {@code dir} (created if needed): the weights file first, then the config,
     * each atomically. All layers must be OFT (v1 or v2) with one configuration, or LoRA with one configuration.
     */
    public static void write(Path dir, Map<String, ? extends AdapterLayer> layers, String baseModelNameOrPath) {
        if (layers.isEmpty()) throw new IllegalArgumentException("no adapter layers to write to " + dir);
        AdapterConfig config = commonConfig(layers);
        boolean negate = config instanceof OftConfig c && !c.useCayleyNeumann() && c.exactConvention() == CayleyConvention.NEUMANN_CONSISTENT;
        Path weights = dir.resolve(WEIGHTS_FILE);
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = new TreeMap<>();
            for (Map.Entry<String, ? extends AdapterLayer> e : layers.entrySet())
                for (Map.Entry<String, Tensor> p : e.getValue().stateDict().entrySet()) {
                    Tensor t = p.getValue().detach().to(new Device("cpu"), ScalarType.Float).contiguous();
                    tensors.put(key(e.getKey(), p.getKey()), negate ? t.neg() : t);
                }
            Files.createDirectories(dir);
            SafetensorsWriter.write(weights, tensors, Map.of("format", "pt"));
        } catch (IOException e) {
            throw new PeftAdapterException(dir, null, "cannot create the adapter directory: " + e, e);
        }
        writeConfig(dir.resolve(CONFIG_FILE), config, baseModelNameOrPath);
    }

    private static AdapterConfig commonConfig(Map<String, ? extends AdapterLayer> layers) {
        AdapterConfig first = null;
        String firstPath = null;
        for (Map.Entry<String, ? extends AdapterLayer> e : layers.entrySet()) {
            AdapterConfig c = e.getValue() instanceof OftAdapter o ? o.config() : ((LoraLayer) e.getValue()).config();
            if (first == null) {
                first = c;
                firstPath = e.getKey();
            } else if (!first.equals(c)) {
                throw new IllegalArgumentException("one adapter file holds one configuration, but " + firstPath + " has " + first
                        + " and " + e.getKey() + " has " + c);
            }
        }
        return first;
    }

    private static void writeConfig(Path file, AdapterConfig config, String baseModel) {
        DefaultPrettyPrinter pp = new DefaultPrettyPrinter()
                .withSeparators(Separators.createDefaultInstance().withObjectFieldValueSpacing(Separators.Spacing.AFTER))
                .withArrayIndenter(DefaultIndenter.SYSTEM_LINEFEED_INSTANCE);
        byte[] bytes;
        try {
            bytes = (JSON.writer(pp).writeValueAsString(PeftConfigJson.toJson(config, baseModel)) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new PeftAdapterException(file, null, "cannot write: " + e, e);
        }
        try {
            AtomicFiles.write(file, bytes); // a temporary name renamed into place; permissions as the umask says
        } catch (DiskFullException e) {
            throw e;
        } catch (UncheckedIOException e) {
            throw new PeftAdapterException(file, null, "cannot write: " + e.getCause(), e);
        }
    }

    /**
     * Reads an adapter directory and attaches it to a model: builds an {@link OftLayer} (OFTv2) or {@link LoraLayer}
     * for every module the config targets.
     *
     * @param bases  the model's linear layers by module path (all of them: the config picks its targets)
     * @param device where the adapter parameters go; null: CPU
     */
    public static PeftAdapter read(Path dir, Map<String, ? extends LinearLayer> bases, Device device) {
        List<String> warnings = new ArrayList<>();
        try (Source src = Source.open(dir, warnings)) {
            AdapterConfig config = src.parsed().config();
            Map<String, AdapterLayer> layers = new TreeMap<>();
            try {
                for (Map.Entry<String, ? extends LinearLayer> b : bases.entrySet())
                    if (src.parsed().targets(b.getKey()) && (!src.parsed().targetsFromFile() || src.keys().containsKey(b.getKey())))
                        layers.put(b.getKey(), config instanceof OftConfig c
                                ? new OftLayer(b.getValue(), c, b.getKey(), 0L, device)
                                : new LoraLayer(b.getValue(), (LoraConfig) config, b.getKey(), 0L, device));
                for (String module : src.keys().keySet()) {
                    if (layers.containsKey(module)) continue;
                    if (!bases.containsKey(module))
                        throw new PeftAdapterException(src.file().path(), firstKey(src.keys().get(module)), "adapts module '" + module
                                + "', which the model does not have (wrong base model, or a different module naming)");
                    warnings.add(src.file().path() + ": module '" + module + "' is not a target of the config "
                            + config.targetModules() + "; its tensors are ignored (as PEFT does)");
                }
                fill(src, layers);
            } catch (RuntimeException e) {
                layers.values().forEach(AdapterLayer::close);
                throw e;
            }
            warnings.forEach(LOG::warn);
            return new PeftAdapter(config, layers, src.parsed().peftVersion(), src.parsed().baseModel(), List.copyOf(warnings));
        }
    }

    /**
     * Loads an adapter directory into existing layers (resuming): the file must hold exactly these modules, with a
     * configuration that computes the same function (same kind, series or exact, N, block sharing, COFT; same LoRA
     * scaling). Returns the warnings.
     */
    public static List<String> load(Path dir, Map<String, ? extends AdapterLayer> layers) {
        List<String> warnings = new ArrayList<>();
        try (Source src = Source.open(dir, warnings)) {
            for (Map.Entry<String, ? extends AdapterLayer> e : layers.entrySet())
                checkCompatible(dir.resolve(CONFIG_FILE), e.getKey(), src.parsed().config(), e.getValue());
            for (String module : src.keys().keySet())
                if (!layers.containsKey(module))
                    throw new PeftAdapterException(src.file().path(), firstKey(src.keys().get(module)), "adapts module '" + module
                            + "', which is not among the layers being loaded");
            fill(src, layers);
            warnings.forEach(LOG::warn);
            return List.copyOf(warnings);
        }
    }

    /** An opened adapter directory: the weights file, its keys by module (module -> suffix -> key), the parsed config. */
    private record Source(SafetensorsFile file, Map<String, Map<String, String>> keys, PeftConfigJson.Parsed parsed)
            implements AutoCloseable {
        static Source open(Path dir, List<String> warnings) {
            SafetensorsFile file = openWeights(dir);
            try {
                Map<String, Map<String, String>> keys = keysByModule(file);
                PeftConfigJson.Parsed parsed = readConfig(dir, keys.keySet(), warnings);
                checkKinds(file.path(), parsed.config(), keys);
                return new Source(file, keys, parsed);
            } catch (RuntimeException e) {
                file.close();
                throw e;
            }
        }

        @Override
        public void close() {
            file.close();
        }
    }

    private static SafetensorsFile openWeights(Path dir) {
        Path config = dir.resolve(CONFIG_FILE), weights = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(config))
            throw new PeftAdapterException(config, null, "missing: not a PEFT adapter directory");
        if (!Files.isRegularFile(weights)) {
            boolean bin = Files.exists(dir.resolve("adapter_model.bin"));
            throw new PeftAdapterException(weights, null, bin ? "missing; only adapter_model.bin (a pickle) is present, which is not "
                    + "read here: convert it to safetensors" : "missing");
        }
        return SafetensorsFile.open(weights);
    }

    private static PeftConfigJson.Parsed readConfig(Path dir, Set<String> fileModules, List<String> warnings) {
        Path config = dir.resolve(CONFIG_FILE);
        JsonNode root;
        try {
            root = JSON.readTree(Files.readAllBytes(config));
        } catch (IOException e) {
            throw new PeftAdapterException(config, null, "not valid JSON: " + ParseErrors.describe(e), e);
        }
        return PeftConfigJson.fromJson(config, root, new TreeSet<>(fileModules), warnings);
    }

    /** Module path -> (suffix -> full key), checking that every key is a PEFT adapter key this reader knows. */
    private static Map<String, Map<String, String>> keysByModule(SafetensorsFile file) {
        Map<String, Map<String, String>> out = new TreeMap<>();
        for (String key : file.names()) {
            if (key.endsWith(".oft_r") || key.endsWith(".oft_s"))
                throw new PeftAdapterException(file.path(), key, "an oft_r/oft_s key: this adapter was written by PEFT < 0.16, whose "
                        + "OFT parameterization differs from the current one (oft_R.weight); retrain it with PEFT >= 0.18 "
                        + "or load it with the PEFT version that wrote it");
            if (key.endsWith(".lora_magnitude_vector") || key.contains(".lora_magnitude_vector."))
                throw new PeftAdapterException(file.path(), key, "a DoRA magnitude vector: DoRA adapters are not supported");
            if (!key.startsWith(KEY_PREFIX))
                throw new PeftAdapterException(file.path(), key, "not a PEFT adapter key (expected " + KEY_PREFIX + "<module path>.<parameter>)");
            String suffix = SUFFIXES.stream().filter(s -> key.endsWith("." + s)).findFirst().orElseThrow(() ->
                    new PeftAdapterException(file.path(), key, "unexpected key; an OFT or LoRA adapter holds only " + SUFFIXES + " per module"));
            String module = key.substring(KEY_PREFIX.length(), key.length() - suffix.length() - 1);
            if (module.isEmpty()) throw new PeftAdapterException(file.path(), key, "no module path in the key");
            out.computeIfAbsent(module, m -> new TreeMap<>()).put(suffix, key);
        }
        if (out.isEmpty()) throw new PeftAdapterException(file.path(), null, "holds no adapter tensors");
        return out;
    }

    private static void checkKinds(Path weights, AdapterConfig config, Map<String, Map<String, String>> keys) {
        Set<String> wanted = config instanceof OftConfig ? Set.of(OftAdapter.WEIGHT_KEY) : Set.of(LoraLayer.A_KEY, LoraLayer.B_KEY);
        for (Map.Entry<String, Map<String, String>> m : keys.entrySet()) {
            for (Map.Entry<String, String> k : m.getValue().entrySet())
                if (!wanted.contains(k.getKey()))
                    throw new PeftAdapterException(weights, k.getValue(), "a " + k.getKey() + " tensor, but the config's peft_type is "
                            + config.peftType());
            for (String w : wanted)
                if (!m.getValue().containsKey(w))
                    throw new PeftAdapterException(weights, key(m.getKey(), w), "missing (module '" + m.getKey() + "' has only "
                            + m.getValue().keySet() + ")");
        }
    }

    /** Validates every tensor against its layer and copies it in. */
    private static void fill(Source src, Map<String, ? extends AdapterLayer> layers) {
        SafetensorsFile file = src.file();
        AdapterConfig config = src.parsed().config();
        for (Map.Entry<String, ? extends AdapterLayer> e : layers.entrySet()) {
            String module = e.getKey();
            AdapterLayer layer = e.getValue();
            Map<String, String> moduleKeys = src.keys().get(module);
            if (moduleKeys == null)
                throw new PeftAdapterException(file.path(), key(module, layer.stateDict().keySet().iterator().next()),
                        "missing: module '" + module + "' is a target of the config " + config.targetModules() + " but has no tensors");
            try (PointerScope scope = new PointerScope()) {
                Map<String, Tensor> values = new LinkedHashMap<>();
                for (Map.Entry<String, Tensor> p : layer.stateDict().entrySet()) {
                    String key = moduleKeys.get(p.getKey());
                    checkShape(file, key, layer, p.getKey(), p.getValue());
                    values.put(p.getKey(), loadFinite(file, key));
                }
                if (layer instanceof OftAdapter o && !o.config().useCayleyNeumann()
                        && o.config().exactConvention() == CayleyConvention.NEUMANN_CONSISTENT)
                    values.replaceAll((k, v) -> v.neg()); // the file holds PEFT's exact convention
                layer.loadStateDict(values);
            }
        }
    }

    private static void checkShape(SafetensorsFile file, String key, AdapterLayer layer, String suffix, Tensor param) {
        TensorInfo info = file.info(key);
        long[] shape = info.shape();
        long[] expected = org.qoft4j.core.Tensors.shape(param);
        if (layer instanceof OftAdapter o && shape.length == 2) {
            BlockSizes.Layout layout = o.rotation().layout();
            int b = BlockSizes.blockSizeOfRow(shape[1]);
            OftConfig c = o.config();
            if (b < 0)
                throw new PeftAdapterException(file.path(), key, "rows of " + shape[1] + " values are not b(b-1)/2 for any block size b");
            if (b != layout.blockSize())
                throw new PeftAdapterException(file.path(), key, "block size mismatch: shape " + Arrays.toString(shape) + " means b = " + b
                        + ", but the config (" + (c.r() != 0 ? "r = " + c.r() : "oft_block_size = " + c.blockSize()) + ") gives b = "
                        + layout.blockSize() + " for this layer's " + layer.base().inFeatures() + " input features");
        }
        if (!Arrays.equals(shape, expected))
            throw new PeftAdapterException(file.path(), key, "shape " + Arrays.toString(shape) + " does not fit the target layer ("
                    + layer.base().inFeatures() + " -> " + layer.base().outFeatures() + "): expected " + Arrays.toString(expected));
        DType dt = info.dtype();
        if (dt != DType.F32 && dt != DType.BF16 && dt != DType.F16 && dt != DType.F64)
            throw new PeftAdapterException(file.path(), key, "dtype " + dt + " is not a floating-point type (expected F32)");
    }

    private static Tensor loadFinite(SafetensorsFile file, String key) {
        Tensor t = file.load(key).to(ScalarType.Float); // F32 stays bit-exact; BF16/F16 widen exactly
        if (HostReads.scalar(t.isfinite().all()) == 0)
            throw new PeftAdapterException(file.path(), key, "contains NaN or infinite values");
        return t;
    }

    private static void checkCompatible(Path configFile, String module, AdapterConfig file, AdapterLayer layer) {
        String problem = null;
        if (layer instanceof OftAdapter o) {
            OftConfig have = o.config();
            if (!(file instanceof OftConfig f)) problem = "the file holds a " + file.peftType() + " adapter, the layer is OFT";
            else if (f.useCayleyNeumann() != have.useCayleyNeumann()) problem = "the file uses " + mode(f) + ", the layer " + mode(have);
            else if (f.useCayleyNeumann() && f.neumannTerms() != have.neumannTerms())
                problem = "the file uses " + f.neumannTerms() + " Neumann terms, the layer " + have.neumannTerms();
            else if (f.blockShare() != have.blockShare()) problem = "block_share " + f.blockShare() + " in the file, " + have.blockShare() + " in the layer";
            else if (f.coft() != have.coft() || (f.coft() && f.eps() != have.eps()))
                problem = "COFT " + f.coft() + " (eps " + f.eps() + ") in the file, " + have.coft() + " (eps " + have.eps() + ") in the layer";
        } else {
            LoraLayer have = (LoraLayer) layer;
            if (!(file instanceof LoraConfig f)) problem = "the file holds a " + file.peftType() + " adapter, the layer is LoRA";
            else if (f.rankFor(module) != have.rank() || f.scalingFor(module) != have.scaling())
                problem = "r = " + f.rankFor(module) + ", scaling " + f.scalingFor(module) + " in the file; r = " + have.rank() + ", scaling "
                        + have.scaling() + " in the layer";
        }
        if (problem != null) throw new PeftAdapterException(configFile, module, "does not match the layer: " + problem);
    }

    private static String mode(OftConfig c) {
        return c.useCayleyNeumann() ? "the Cayley-Neumann series" : "the exact Cayley transform";
    }

    private static String firstKey(Map<String, String> suffixToKey) {
        return suffixToKey.values().iterator().next();
    }
}
