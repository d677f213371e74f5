package dev.zimage4j.check;

/**
 * The outcome of one fixture case.
 *
 * @param stage     stage name ("tokenizer", "text", "dit", …)
 * @param name      case name, e.g. the tensor key
 * @param error     measured error (max |a−b| / max |b|; 0 or 1 for exact stages)
 * @param tolerance the fixtures README's tolerance for this stage (on this backend, see {@link Tolerance})
 * @param detail    extra words for a failure ("ids differ at 12: 872 vs 873"), or ""
 * @param cosine    cosine similarity of output and reference, or NaN where not measured
 * @param minCosine the least cosine that passes (the README's bf16 GPU criterion), or NaN where none applies
 */
public record CaseResult(String stage, String name, double error, double tolerance, String detail, double cosine, double minCosine) {

    /** A case judged on {@code error} alone. */
    public CaseResult(String stage, String name, double error, double tolerance, String detail) {
        this(stage, name, error, tolerance, detail, Double.NaN, Double.NaN);
    }

    public boolean pass() {
        return Double.isFinite(error) && error <= tolerance && (Double.isNaN(minCosine) || cosine >= minCosine);
    }
}
