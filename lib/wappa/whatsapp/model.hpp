#pragma once
// Typed view of Meta's `messages` webhook (SPEC.md §2–§4). Ids and timestamps stay strings.
// Every message and status also keeps its raw JSON, so fields we do not model yet are passed
// on to the queue instead of being lost.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace wappa::whatsapp {

struct GraphError {
    std::int64_t code = 0;
    std::string title;
    std::string message;
    std::string details;   // error_data.details
    std::string href;
};

struct Contact {
    std::string wa_id;
    std::string user_id;
    std::string name;      // profile.name
};

struct ReferredProduct {
    std::string catalog_id;
    std::string product_retailer_id;
};

struct Context {
    std::string from;
    std::string id;
    bool forwarded = false;
    bool frequently_forwarded = false;
    std::optional<ReferredProduct> referred_product;
};

struct Referral {
    std::string source_url, source_id, source_type, headline, body, media_type;
    std::string image_url, video_url, thumbnail_url, ctwa_clid, welcome_message;
};

struct TextContent {
    std::string body;
};

// image, audio, video, document and sticker share one shape.
struct MediaContent {
    std::string id, mime_type, sha256, caption, filename, url;
    bool voice = false;      // audio: recorded voice note
    bool animated = false;   // sticker
};

struct LocationContent {
    double latitude = 0;
    double longitude = 0;
    std::string name, address, url;
};

struct ContactCard {
    struct Phone { std::string phone, wa_id, type; };
    struct Email { std::string email, type; };
    struct Url { std::string url, type; };
    struct PostalAddress { std::string street, city, state, zip, country, country_code, type; };
    std::string formatted_name, first_name, last_name, middle_name, prefix, suffix;
    std::vector<Phone> phones;
    std::vector<Email> emails;
    std::vector<Url> urls;
    std::vector<PostalAddress> addresses;
    std::string company, department, title;   // org
    std::string birthday;
};

struct ContactsContent {
    std::vector<ContactCard> cards;
};

// interactive: button_reply {id,title}, list_reply {id,title,description}, nfm_reply
// {name,body,response_json}; any newer kind keeps its type name.
struct InteractiveContent {
    std::string type;
    std::string id, title, description;
    std::string name, body, response_json;
};

// A tap on a template quick-reply button.
struct ButtonContent {
    std::string payload, text;
};

struct ReactionContent {
    std::string message_id;
    std::string emoji;    // empty (or absent in the payload) = the reaction was removed
    bool removed() const { return emoji.empty(); }
};

struct OrderContent {
    struct Item {
        std::string product_retailer_id, currency;
        double quantity = 0;
        double item_price = 0;
    };
    std::string catalog_id, text;
    std::vector<Item> items;
};

struct SystemContent {
    std::string body, type, wa_id, customer, user_id;
};

// unsupported, unknown, request_welcome and any type Meta adds later.
struct OtherContent {
    std::string subtype;   // unsupported.type when present, e.g. "poll"
};

using Content = std::variant<OtherContent, TextContent, MediaContent, LocationContent, ContactsContent,
                             InteractiveContent, ButtonContent, ReactionContent, OrderContent, SystemContent>;

struct Message {
    std::string id;         // wamid
    std::string from;
    std::string from_user_id;
    std::string timestamp;  // unix seconds as Meta sends them
    std::string type;
    Content content;
    std::optional<Context> context;
    std::optional<Referral> referral;
    std::vector<GraphError> errors;
    std::string raw;        // the message object as JSON
};

struct Conversation {
    std::string id, expiration_timestamp, origin_type;
};

struct Pricing {
    std::optional<bool> billable;
    std::string pricing_model, type, category;
};

struct StatusUpdate {
    std::string id;         // the wamid of our outbound message
    std::string status;     // sent|delivered|read|failed|played|...
    std::string timestamp;
    std::string recipient_id;
    std::string recipient_user_id;
    std::string biz_opaque_callback_data;
    std::optional<Conversation> conversation;
    std::optional<Pricing> pricing;
    std::vector<GraphError> errors;
    std::string raw;
};

// One entry × change of the webhook, flattened.
struct Change {
    std::string field;      // "messages", or another subscribed field (kept raw)
    std::string waba_id;    // entry.id
    std::string display_phone_number;
    std::string phone_number_id;
    std::vector<Contact> contacts;
    std::vector<Message> messages;
    std::vector<StatusUpdate> statuses;
    std::vector<GraphError> errors;   // value.errors: system/app-level problems
    std::string raw_value;  // the change's value as JSON (non-"messages" fields, errors)

    const Contact* contact_for(std::string_view wa_id) const;
};

struct Webhook {
    std::string object;
    std::vector<Change> changes;
    std::size_t event_count() const;
};

std::string_view content_kind(const Content& content);

}  // namespace wappa::whatsapp
