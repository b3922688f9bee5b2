#pragma once
// Outbound jobs (INTERFACE.md §5): parsed from the job JSON that `wappa enqueue` and the message
// API accept, checked against Meta's limits (SPEC.md §6) so that an invalid job is refused with
// the field at fault before it is queued, and turned into the exact Graph API request body.
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "wappa/core/result.hpp"

namespace wappa::whatsapp {

struct TextJob {
    std::string body;
    std::optional<bool> preview_url;
};

struct TemplateJob {
    std::string name;
    std::string language_code;
    std::string components_json;   // the components array as given (validated), or empty
};

struct MediaJob {
    std::string media_type;        // image|video|audio|document|sticker
    std::string link;              // media_url
    std::string id;                // media_id
    std::string caption;
    std::string filename;
};

struct ReplyButton {
    std::string id, title;
};

struct ButtonsJob {
    std::string body_text, header_text, footer_text;
    std::vector<ReplyButton> buttons;
};

struct ListRow {
    std::string id, title, description;
};

struct ListSection {
    std::string title;
    std::vector<ListRow> rows;
};

struct ListJob {
    std::string body_text, header_text, footer_text, button_text;
    std::vector<ListSection> sections;
};

struct LocationJob {
    double latitude = 0, longitude = 0;
    std::string name, address;
};

struct ReactionJob {
    std::string target_message_id;
    std::string emoji;             // "" removes the reaction
};

struct ReadJob {
    std::string target_message_id;
    bool typing = false;           // also show the typing indicator
};

using JobContent = std::variant<TextJob, TemplateJob, MediaJob, ButtonsJob, ListJob, LocationJob, ReactionJob, ReadJob>;

struct OutboundJob {
    std::string type;              // text_message, template_message, ...
    std::string message_id;        // idempotency key; empty = to be generated
    std::string tenant;
    std::string phone_number_id;   // empty = the tenant's
    std::string to_number;         // digits only (a leading + removed)
    std::string reply_to;
    JobContent content;
};

// Why a job was refused: the field at fault ("buttons[1].title") and what is wrong with it.
struct JobError {
    std::string field;
    std::string message;
    std::string describe() const { return field.empty() ? message : field + ": " + message; }
};

using JobResult = std::variant<OutboundJob, JobError>;

// Parses and validates one job. Never throws.
JobResult parse_job(std::string_view json);

// The body to POST to /{phone_number_id}/messages; `callback_data` (our message id) becomes
// biz_opaque_callback_data so that status webhooks can be joined to the job (empty = none).
std::string build_graph_body(const OutboundJob& job, std::string_view callback_data);

// Unicode code points in a UTF-8 string: Meta's limits count characters, not bytes.
std::size_t count_characters(std::string_view utf8);

}  // namespace wappa::whatsapp
