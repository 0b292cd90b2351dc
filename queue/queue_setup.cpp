// The streams and the bucket of asynchronous calls.
#include "queue_setup.h"

#include "queue_names.h"

namespace faas::queue {

StreamConfig call_stream_config() {
    StreamConfig config;
    config.name = kCallStream;
    config.subjects = {"faas.calls.>"};
    config.retention = Retention::kWorkQueue;
    config.storage = Storage::kFile;
    config.duplicate_window = kDuplicateWindow;
    return config;
}

StreamConfig dead_letter_stream_config() {
    StreamConfig config;
    config.name = kDeadLetterStream;
    config.subjects = {"faas.dead.>"};
    config.retention = Retention::kLimits;
    config.storage = Storage::kFile;
    config.max_age = kDeadLetterMaxAge;
    config.duplicate_window = kDuplicateWindow;
    return config;
}

KeyValue ensure_queue(JetStream& jetstream, std::chrono::milliseconds record_ttl) {
    jetstream.ensure_stream(call_stream_config());
    jetstream.ensure_stream(dead_letter_stream_config());
    return jetstream.ensure_bucket(kRecordBucket, record_ttl);
}

}  // namespace faas::queue
