#include "wappa/service/message_api.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "wappa/core/json.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/service/api_auth.hpp"
#include "wappa/service/outbound_jobs.hpp"

namespace wappa::service {

MessageApi::MessageApi(const config::Config& config, queue::OutboundQueue& queue) : config_(config), queue_(queue) {}

Task<http::Response> MessageApi::queue_job(const http::Request& request, std::string job_json) {
    const auto caller = authenticate(config_, request);
    if (!caller) co_return http::Response::error(401, "missing or unknown Bearer token");
    // A tenant's token sends as that tenant: its tenant is filled in, another one refused. With
    // the admin token and a single tenant configured, that tenant is implied.
    const auto* implied = caller->tenant != nullptr ? caller->tenant : config_.tenants.size() == 1 ? &config_.tenants.front() : nullptr;
    rapidjson::Document doc;
    doc.Parse(job_json.c_str(), job_json.size());
    if (!doc.HasParseError() && doc.IsObject() && implied != nullptr) {
        const auto* named = doc.HasMember("tenant") && doc["tenant"].IsString() ? doc["tenant"].GetString()
                            : doc.HasMember("workspace_id") && doc["workspace_id"].IsString() ? doc["workspace_id"].GetString()
                                                                                               : nullptr;
        if (named != nullptr && caller->tenant != nullptr && caller->tenant->id != named) {
            co_return http::Response::error(403, "this token may only send as tenant '" + caller->tenant->id + "'");
        }
        if (named == nullptr) {
            doc.AddMember("tenant", rapidjson::Value(implied->id.c_str(), doc.GetAllocator()), doc.GetAllocator());
            rapidjson::StringBuffer buffer;
            rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
            doc.Accept(writer);
            job_json.assign(buffer.GetString(), buffer.GetSize());
        }
    }
    auto parsed = whatsapp::parse_job(job_json);
    if (const auto* error = std::get_if<whatsapp::JobError>(&parsed)) co_return http::Response::json(400, field_error_body(error->field, error->message));
    auto made = make_enqueue_request(config_, std::get<whatsapp::OutboundJob>(std::move(parsed)));
    if (const auto* error = std::get_if<whatsapp::JobError>(&made)) co_return http::Response::json(400, field_error_body(error->field, error->message));
    const std::vector<queue::EnqueueRequest> jobs{std::get<queue::EnqueueRequest>(std::move(made))};
    auto results = co_await queue_.enqueue(jobs);
    if (!results) co_return http::Response::error(503, "the message could not be queued; retry later");
    const auto& result = results->front();
    if (result.outcome == queue::EnqueueOutcome::conflict) {
        co_return http::Response::json(409, field_error_body("message_id", "'" + jobs.front().message_id +
                                                                            "' already exists with a different body"));
    }
    std::string body = "{\"message_id\":";
    json::append_string(body, jobs.front().message_id);
    body += ",\"status\":";
    json::append_string(body, result.status);
    co_return http::Response::json(202, body + "}");
}

Task<http::Response> MessageApi::post_message(const http::Request& request) {
    co_return co_await queue_job(request, request.body);
}

Task<http::Response> MessageApi::post_compat_text(const http::Request& request) {
    rapidjson::Document doc;
    doc.Parse(request.body.c_str(), request.body.size());
    if (doc.HasParseError() || !doc.IsObject()) co_return http::Response::json(400, field_error_body("", "the body must be a JSON object"));
    const auto text = [&](const char* key) {
        return doc.HasMember(key) && doc[key].IsString() ? std::string(doc[key].GetString()) : std::string{};
    };
    std::string job = "{\"type\":\"text_message\",\"to_number\":" + json::quote(text("recipient")) + ",\"text\":" + json::quote(text("text"));
    if (!text("tenant").empty()) job += ",\"tenant\":" + json::quote(text("tenant"));
    if (!text("message_id").empty()) job += ",\"message_id\":" + json::quote(text("message_id"));
    co_return co_await queue_job(request, job + "}");
}

}  // namespace wappa::service
