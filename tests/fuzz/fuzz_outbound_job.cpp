// The outbound job validator (enqueue --json, POST /api/v1/messages) on arbitrary JSON: every
// input is a job or an error naming a field, and every job it accepts becomes a Graph API body
// that is valid JSON.
#include <rapidjson/document.h>

#include <cstdlib>
#include <string_view>
#include <variant>

#include "wappa/whatsapp/outbound.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wappa::whatsapp;
    const std::string_view json(reinterpret_cast<const char*>(data), size);
    auto result = parse_job(json);
    if (auto* job = std::get_if<OutboundJob>(&result)) {
        const auto body = build_graph_body(*job, "fuzz-callback");
        rapidjson::Document parsed;
        parsed.Parse(body.data(), body.size());
        if (parsed.HasParseError() || !parsed.IsObject()) std::abort();
    } else if (std::get<JobError>(result).message.empty()) {
        std::abort();   // a refusal must say what is wrong
    }
    (void)count_characters(json);
    return 0;
}
