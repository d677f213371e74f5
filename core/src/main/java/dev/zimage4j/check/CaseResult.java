package dev.zimage4j.check;

/**
 * The outcome of one fixture case.
 *
 * @param stage     stage name ("tokenizer", "text", "dit", …)
 * @param name      case name, e.g. the tensor key
 * @param error     measured error (max |a−b| / max |b|; 0 or 1 for exact stages)
 * @param tolerance the fixtures README's tolerance for this stage
 * @param detail    extra words for a failure ("ids differ at 12: 872 vs 873"), or ""
 */
public record CaseResult(String stage, String name, double error, double tolerance, String detail) {

    public boolean pass() {
        return Double.isFinite(error) && error <= tolerance;
    }
}
