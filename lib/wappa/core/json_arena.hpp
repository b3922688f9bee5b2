#pragma once
// A RapidJSON document parsed in a per-thread arena: no malloc per DOM on the hot paths (a
// webhook, each job of a bulk enqueue); a bigger document spills into heap chunks freed with
// it. The arena is allocated on a thread's first use, not as a thread_local array that every
// process and thread start would zero. One ArenaDocument at a time per thread: they share it.
#include <rapidjson/document.h>

namespace wappa::json {

class ArenaDocument {
public:
    using Document = rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                                                rapidjson::MemoryPoolAllocator<>>;
    ArenaDocument();
    ArenaDocument(const ArenaDocument&) = delete;
    ArenaDocument& operator=(const ArenaDocument&) = delete;
    Document& operator*() { return doc_; }
    Document* operator->() { return &doc_; }
    // Whether everything parsed so far fits in the arena (no heap chunk was needed).
    bool in_arena() const;

private:
    rapidjson::MemoryPoolAllocator<> values_;
    rapidjson::MemoryPoolAllocator<> stack_;
    Document doc_;
};

}  // namespace wappa::json
