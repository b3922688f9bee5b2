// wappa enqueue: queue outbound messages from a shell, one sub-form per kind or NDJSON jobs.
#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <iostream>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <optional>
#include <span>

#include "common.hpp"
#include "huge_heap.hpp"
#include "one_shot.hpp"
#include "wappa/core/exit_codes.hpp"
#include "wappa/core/json.hpp"
#include "wappa/queue/outbound_queue.hpp"
#include "wappa/redis/client.hpp"
#include "wappa/service/outbound_jobs.hpp"

namespace wappa::app {
namespace {

struct EnqueueOptions {
    std::string json_file;        // --json FILE or -
    bool skip_invalid = false;
    // Sub-form fields, turned into one job.
    std::string kind;
    std::string tenant, to, message_id, reply_to;
    std::string text;
    bool preview_url = false;
    std::string template_name, language = "en_US", components;
    std::string media_type, url, media_id, caption, filename;
    std::string body, header, footer, button_text, sections;
    std::vector<std::string> buttons;   // "id:title"
    double latitude = 0, longitude = 0;
    std::string name, address;
    std::string target, emoji;
    bool typing = false;
};

void field(std::string& out, const char* key, const std::string& value) {
    if (value.empty()) return;
    out += ',';
    json::append_string(out, key);
    out += ':';
    json::append_string(out, value);
}

// The sub-form's flags as one job in the JSON form that --json takes.
std::string job_from_flags(const EnqueueOptions& o) {
    static const std::map<std::string, std::string> types{
        {"text", "text_message"},         {"template", "template_message"}, {"media", "media_message"},
        {"buttons", "interactive_buttons"}, {"list", "interactive_list"},   {"location", "location_message"},
        {"reaction", "reaction_message"}, {"read", "mark_as_read"}};
    std::string j = "{\"type\":" + json::quote(types.at(o.kind));
    field(j, "tenant", o.tenant);
    field(j, "to_number", o.to);
    field(j, "message_id", o.message_id);
    field(j, "reply_to", o.reply_to);
    field(j, "text", o.text);
    if (o.preview_url) j += ",\"preview_url\":true";
    if (o.kind == "template") {
        field(j, "template_name", o.template_name);
        field(j, "language_code", o.language);
        if (!o.components.empty()) j += ",\"components\":" + o.components;
    }
    field(j, "media_type", o.media_type);
    field(j, "media_url", o.url);
    field(j, "media_id", o.media_id);
    field(j, "caption", o.caption);
    field(j, "filename", o.filename);
    field(j, "body_text", o.body);
    field(j, "header", o.header);
    field(j, "footer", o.footer);
    field(j, "button_text", o.button_text);
    if (!o.sections.empty()) j += ",\"sections\":" + o.sections;
    if (!o.buttons.empty()) {
        j += ",\"buttons\":[";
        for (std::size_t i = 0; i < o.buttons.size(); ++i) {
            const auto colon = o.buttons[i].find(':');
            const auto id = colon == std::string::npos ? o.buttons[i] : o.buttons[i].substr(0, colon);
            const auto title = colon == std::string::npos ? o.buttons[i] : o.buttons[i].substr(colon + 1);
            j += (i ? "," : "") + std::string("{\"id\":") + json::quote(id) + ",\"title\":" + json::quote(title) + "}";
        }
        j += "]";
    }
    if (o.kind == "location") j += ",\"latitude\":" + std::to_string(o.latitude) + ",\"longitude\":" + std::to_string(o.longitude);
    field(j, "name", o.name);
    field(j, "address", o.address);
    field(j, "target_message_id", o.target);
    if (o.kind == "reaction") j += ",\"emoji\":" + json::quote(o.emoji);
    if (o.typing) j += ",\"typing\":true";
    return j + "}";
}

// Bulk input means hundreds of MB of short-lived buffers. Kept in the heap and reused, rather
// than mapped and unmapped each time: every fresh page costs a fault, slow on a VM.
void keep_buffers_in_heap() {
    ::mallopt(M_MMAP_THRESHOLD, 32 << 20);   // glibc's maximum
    ::mallopt(M_TRIM_THRESHOLD, 512 << 20);
    ::mallopt(M_TOP_PAD, 64 << 20);
}

struct Line {
    std::size_t number;
    std::string_view text;   // into Input::text
};

// The jobs' text: a regular file (or stdin redirected from one) is mapped, not copied; a pipe
// is read whole with read(2) (through iostreams the copying cost more than validating).
class Input {
public:
    Input() = default;
    Input(const Input&) = delete;
    Input& operator=(const Input&) = delete;
    ~Input() {
        if (mapped_ != nullptr) ::munmap(mapped_, mapped_size_);
    }
    bool load(int fd) {
        struct stat st {};
        if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
            mapped_size_ = static_cast<std::size_t>(st.st_size);
            mapped_ = ::mmap(nullptr, mapped_size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
            if (mapped_ != MAP_FAILED) {
                text = std::string_view(static_cast<const char*>(mapped_), mapped_size_);
                return true;
            }
            mapped_ = nullptr;
        }
        // Grown with realloc, not resize: zero-filling pages the input may never reach costs
        // a small input more than reading it.
        std::size_t used = 0, capacity = 0;
        for (;;) {
            if (capacity - used < (1 << 16)) {
                capacity = std::max<std::size_t>(capacity * 2, 1 << 17);
                auto* grown = static_cast<char*>(std::realloc(read_.get(), capacity));
                if (grown == nullptr) return false;
                read_.release();
                read_.reset(grown);
            }
            const auto n = ::read(fd, read_.get() + used, capacity - used);
            if (n == 0) break;
            if (n < 0) {
                if (errno == EINTR) continue;
                return false;
            }
            used += static_cast<std::size_t>(n);
        }
        text = std::string_view(read_.get(), used);
        return true;
    }
    void assign(std::string job) {
        owned_ = std::move(job);
        text = owned_;
    }

    std::string_view text;
    std::vector<Line> lines;

private:
    struct Free {
        void operator()(char* p) const { std::free(p); }
    };
    std::unique_ptr<char, Free> read_;
    std::string owned_;
    void* mapped_ = nullptr;
    std::size_t mapped_size_ = 0;
};

// NDJSON, or one JSON document spread over several lines. Lines are views into the text.
void split_jobs(Input& input) {
    const std::string_view all = input.text;
    std::size_t n = 1;
    for (std::size_t start = 0; start < all.size(); ++n) {
        auto end = all.find('\n', start);
        if (end == std::string_view::npos) end = all.size();
        const auto text = all.substr(start, end - start);
        if (text.find_first_not_of(" \t\r") != std::string_view::npos) input.lines.push_back({n, text});
        start = end + 1;
    }
    const auto json_syntax_error = [](std::string_view text) {
        auto parsed = whatsapp::parse_job(text);
        const auto* error = std::get_if<whatsapp::JobError>(&parsed);
        return error != nullptr && error->message.starts_with("invalid JSON");
    };
    if (input.lines.size() > 1 && json_syntax_error(input.lines.front().text) && !json_syntax_error(all)) {
        input.lines = {{input.lines.front().number, all}};
    }
}

// Slices taken in turn by a few lanes: while Redis runs one lane's scripts, another lane's
// commands are being built and written, so that neither side waits for the other.
constexpr std::size_t slice_size = 2048;
constexpr std::size_t lane_count = 4;

using Slice = std::span<const queue::EnqueueRequest>;

struct Lanes {
    std::vector<Slice> slices;
    std::vector<std::size_t> offsets;   // of each slice's first result
    std::vector<queue::EnqueueResult> results;
    std::optional<Error> failure;
    std::size_t running = 0;
};

Task<void> enqueue_lane(queue::OutboundQueue& outbound, std::size_t lane, Lanes& lanes, net::steady_timer& finished) {
    for (std::size_t k = lane; k < lanes.slices.size() && !lanes.failure; k += lane_count) {
        auto results = co_await outbound.enqueue(lanes.slices[k]);
        if (!results) {
            lanes.failure = results.error();
            break;
        }
        std::copy(results->begin(), results->end(), lanes.results.begin() + static_cast<long>(lanes.offsets[k]));
    }
    if (--lanes.running == 0) finished.cancel();
}

// The requests of every part, in order; one result per request.
Task<Result<std::vector<queue::EnqueueResult>>> enqueue_all(queue::OutboundQueue& outbound,
                                                             const std::vector<std::vector<queue::EnqueueRequest>>& parts) {
    auto executor = co_await net::this_coro::executor;
    Lanes lanes;
    std::size_t total = 0;
    for (const auto& part : parts) {
        for (std::size_t start = 0; start < part.size(); start += slice_size) {
            lanes.slices.push_back(Slice(part).subspan(start, std::min(slice_size, part.size() - start)));
            lanes.offsets.push_back(total + start);
        }
        total += part.size();
    }
    lanes.results.resize(total);
    lanes.running = lane_count;
    net::steady_timer finished(executor, std::chrono::steady_clock::time_point::max());
    for (std::size_t lane = 0; lane < lane_count; ++lane) {
        net::co_spawn(executor, enqueue_lane(outbound, lane, lanes, finished), net::detached);
    }
    while (lanes.running > 0) co_await finished.async_wait(net::as_tuple(net::use_awaitable));
    if (lanes.failure) co_return *lanes.failure;
    co_return std::move(lanes.results);
}

int run_enqueue(const GlobalOptions& global, const EnqueueOptions& o) {
    const bool from_json = !o.json_file.empty();
    // Opened first: a large input restarts the process before anything is done (or read).
    const int fd = !from_json ? -1 : o.json_file == "-" ? 0 : ::open(o.json_file.c_str(), O_RDONLY | O_CLOEXEC);
    const int open_error = errno;
    if (fd >= 0) restart_with_huge_heap_for(fd);
    auto config = load_config_or_report(global);
    if (!config) {
        if (fd > 0) ::close(fd);
        return exit_code::config;
    }

    Input input;
    if (from_json) {
        keep_buffers_in_heap();
        const bool loaded = fd >= 0 && input.load(fd);
        const int error = fd >= 0 ? errno : open_error;
        if (fd > 0) ::close(fd);
        if (!loaded) {
            std::cerr << "wappa enqueue: cannot read " << o.json_file << ": " << std::strerror(error) << "\n";
            return exit_code::data_error;
        }
        split_jobs(input);
    } else {
        input.assign(job_from_flags(o));
        input.lines.push_back({0, input.text});
    }
    const auto& lines = input.lines;

    // Every job is validated before anything is queued; a large file on every core (Redis is
    // idle meanwhile), each thread on its own slice of lines and building its own part of the
    // requests (in its own memory: no thread waits on another's page faults), the reports then
    // printed in line order. An invalid line has no request.
    const std::size_t threads = lines.size() >= 20'000 ? std::max(1u, std::thread::hardware_concurrency()) : 1;
    std::vector<std::vector<queue::EnqueueRequest>> parts(threads);
    std::vector<std::vector<std::pair<std::size_t, whatsapp::JobError>>> errors(threads);
    const std::size_t slice = (lines.size() + threads - 1) / threads;
    const auto validate = [&](std::size_t t) {
        const auto from = std::min(lines.size(), t * slice), to = std::min(lines.size(), (t + 1) * slice);
        parts[t].reserve(to - from);
        for (std::size_t i = from; i < to; ++i) {
            auto parsed = whatsapp::parse_job(lines[i].text);
            if (auto* error = std::get_if<whatsapp::JobError>(&parsed)) {
                errors[t].emplace_back(i, std::move(*error));
                continue;
            }
            auto made = service::make_enqueue_request(*config, std::get<whatsapp::OutboundJob>(std::move(parsed)));
            if (auto* error = std::get_if<whatsapp::JobError>(&made)) errors[t].emplace_back(i, std::move(*error));
            else parts[t].push_back(std::get<queue::EnqueueRequest>(std::move(made)));
        }
    };
    std::vector<std::thread> helpers;
    for (std::size_t t = 1; t < threads; ++t) helpers.emplace_back(validate, t);
    validate(0);
    for (auto& h : helpers) h.join();

    std::size_t invalid = 0;
    for (const auto& found : errors) {
        for (const auto& [i, error] : found) {
            ++invalid;
            const auto where = from_json ? o.json_file + ":" + std::to_string(lines[i].number) + ": " : std::string{};
            std::cerr << "wappa enqueue: " << where << "invalid job: " << error.describe() << "\n";
        }
    }
    if (invalid > 0 && !o.skip_invalid) {
        std::cerr << "wappa enqueue: nothing queued (" << invalid << " invalid job(s); --skip-invalid queues the valid ones)\n";
        return exit_code::data_error;
    }
    std::vector<const queue::EnqueueRequest*> requests;   // in line order, for the report
    for (const auto& part : parts) {
        for (const auto& r : part) requests.push_back(&r);
    }

    auto results = with_redis<std::vector<queue::EnqueueResult>>(
        *config, [&](redis::Client& client) -> Task<Result<std::vector<queue::EnqueueResult>>> {
            queue::OutboundQueue outbound(client, service::outbound_settings(*config));
            co_return co_await enqueue_all(outbound, parts);
        });
    if (!results) {
        std::cerr << "wappa enqueue: " << results.error().message << " (nothing more was queued)\n";
        return exit_code::unavailable;
    }
    int code = exit_code::ok;
    std::string out;
    out.reserve(requests.size() * (from_json ? 96 : 40));
    for (std::size_t i = 0; i < requests.size(); ++i) {
        const auto& r = results.value()[i];
        const char* outcome = r.outcome == queue::EnqueueOutcome::queued ? "queued"
                              : r.outcome == queue::EnqueueOutcome::exists ? "exists" : "conflict";
        if (r.outcome == queue::EnqueueOutcome::conflict) {
            std::cerr << "wappa enqueue: message_id " << requests[i]->message_id
                      << " already exists with a different body (status " << r.status << ")\n";
            code = exit_code::data_error;
        }
        if (from_json) {
            out += "{\"message_id\":";
            json::append_string(out, requests[i]->message_id);
            out.append(",\"outcome\":\"").append(outcome).append("\",\"status\":");
            json::append_string(out, r.status);
            out += "}\n";
        } else {
            out.append(requests[i]->message_id).append("\n");
        }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    return code;
}

}  // namespace

Command setup_enqueue(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<EnqueueOptions>();
    auto* cmd = app.add_subcommand("enqueue", "Queue outbound messages: one sub-form per kind, or JSON jobs");
    cmd->add_option("--json", o->json_file, "Read one JSON job or NDJSON (one job per line) from FILE, or - for stdin");
    cmd->add_flag("--skip-invalid", o->skip_invalid, "Queue the valid jobs even if some are invalid");
    cmd->require_subcommand(0, 1);
    const auto common = [&](CLI::App* sub) {
        sub->add_option("--tenant", o->tenant, "Tenant id")->required();
        sub->add_option("--message-id", o->message_id, "Idempotency key (generated when absent)");
    };
    const auto to = [&](CLI::App* sub) {
        sub->add_option("--to", o->to, "Recipient, E.164 with or without +")->required();
        sub->add_option("--reply-to", o->reply_to, "wamid of the message this one quotes");
    };
    auto* text = cmd->add_subcommand("text", "A text message");
    common(text), to(text);
    text->add_option("--text", o->text, "The text")->required();
    text->add_flag("--preview-url", o->preview_url, "Render a preview of the first URL");
    auto* tmpl = cmd->add_subcommand("template", "An approved template");
    common(tmpl), to(tmpl);
    tmpl->add_option("--name", o->template_name, "Template name")->required();
    tmpl->add_option("--language", o->language, "Language code (default en_US)");
    tmpl->add_option("--components", o->components, "Components as a JSON array");
    auto* media = cmd->add_subcommand("media", "An image, video, audio, document or sticker");
    common(media), to(media);
    media->add_option("--media-type", o->media_type, "image|video|audio|document|sticker")->required();
    media->add_option("--url", o->url, "Public URL of the media");
    media->add_option("--media-id", o->media_id, "Uploaded media id");
    media->add_option("--caption", o->caption, "Caption (image, video, document)");
    media->add_option("--filename", o->filename, "File name (document)");
    auto* buttons = cmd->add_subcommand("buttons", "Interactive reply buttons");
    common(buttons), to(buttons);
    buttons->add_option("--body", o->body, "Body text")->required();
    buttons->add_option("--button", o->buttons, "A button as id:title (1 to 3)")->required();
    buttons->add_option("--header", o->header, "Header text");
    buttons->add_option("--footer", o->footer, "Footer text");
    auto* list = cmd->add_subcommand("list", "Interactive list");
    common(list), to(list);
    list->add_option("--body", o->body, "Body text")->required();
    list->add_option("--button-text", o->button_text, "Label of the list button")->required();
    list->add_option("--sections", o->sections, "Sections as a JSON array")->required();
    list->add_option("--header", o->header, "Header text");
    list->add_option("--footer", o->footer, "Footer text");
    auto* location = cmd->add_subcommand("location", "A location pin");
    common(location), to(location);
    location->add_option("--latitude", o->latitude, "Latitude")->required();
    location->add_option("--longitude", o->longitude, "Longitude")->required();
    location->add_option("--name", o->name, "Place name");
    location->add_option("--address", o->address, "Address");
    auto* reaction = cmd->add_subcommand("reaction", "React to a message");
    common(reaction), to(reaction);
    reaction->add_option("--target", o->target, "wamid of the message reacted to")->required();
    reaction->add_option("--emoji", o->emoji, "The emoji (empty removes the reaction)");
    auto* read = cmd->add_subcommand("read", "Mark a message as read");
    common(read);
    read->add_option("--target", o->target, "wamid of the message read")->required();
    read->add_flag("--typing", o->typing, "Also show the typing indicator");
    for (auto* sub : {text, tmpl, media, buttons, list, location, reaction, read}) {
        sub->final_callback([o, sub] { o->kind = sub->get_name(); });
    }
    cmd->final_callback([o, cmd] {
        if (o->kind.empty() && o->json_file.empty()) throw CLI::RequiredError("a sub-form (text, template, ...) or --json");
        if (!o->kind.empty() && !o->json_file.empty()) throw CLI::ExcludesError("--json", "a sub-form");
    });
    return {cmd, [&global, o] { return run_enqueue(global, *o); }};
}

}  // namespace wappa::app
