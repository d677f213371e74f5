package dev.zimage4j.safetensors;

/** A {@code *.safetensors.index.json} names a shard file that does not exist. */
public class MissingShardException extends InvalidIndexException {
    public MissingShardException(String message) {
        super(message);
    }
}
