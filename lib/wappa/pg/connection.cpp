#include <atomic>
#include "wappa/pg/connection.hpp"

#include "wappa/pg/libpq.hpp"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <set>

namespace wappa::pg {
namespace {

using namespace net::experimental::awaitable_operators;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
using Clock = std::chrono::steady_clock;
using Descriptor = net::posix::stream_descriptor;

// Only called once connect() has loaded libpq.
const libpq::Api& pq() {
    std::string ignored;
    return *libpq::load(ignored);
}

std::string trimmed(const char* text) {
    std::string out = text ? text : "";
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

// The server's notices (NOTICE, WARNING) go to the log, not to stderr.
void log_notice(void*, const char* message) { spdlog::debug("PostgreSQL: {}", trimmed(message)); }

bool connection_exception(std::string_view sqlstate) {
    return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03";
}

std::atomic<std::uint64_t> pipelines{0};

}  // namespace

std::uint64_t round_trips() { return pipelines.load(std::memory_order_relaxed); }

struct Connection::Impl {
    Impl(net::any_io_executor executor, const Settings& s) : executor(std::move(executor)), settings(s), socket(this->executor) {}
    ~Impl() { close(); }

    void close() {
        if (socket.is_open()) {
            boost::system::error_code ignored;
            socket.close(ignored);
        }
        if (conn != nullptr) pq().PQfinish(conn);
        conn = nullptr;
        prepared.clear();
    }

    // Asio watches a duplicate of libpq's socket (each closes its own), redone when libpq
    // changes socket (several addresses tried while connecting).
    void adopt_socket() {
        const int fd = pq().PQsocket(conn);
        if (fd == watched_fd && socket.is_open()) return;
        if (socket.is_open()) {
            boost::system::error_code ignored;
            socket.close(ignored);
        }
        watched_fd = fd;
        if (fd >= 0) socket.assign(::dup(fd));
    }

    // Waits until the socket can be read (or written), or the deadline passes.
    Task<bool> wait(Descriptor::wait_type what, Clock::time_point deadline) {
        net::steady_timer timer(executor, deadline);
        auto done = co_await (socket.async_wait(what, use_tuple) || timer.async_wait(use_tuple));
        if (done.index() == 1) co_return false;
        const auto [error] = std::get<0>(done);
        co_return !error;
    }

    Error lost(std::string what) {
        broken = true;
        Error e{what + ": " + trimmed(pq().PQerrorMessage(conn)), "08000", true};
        return e;
    }

    // Sends what libpq has buffered; it may need to read meanwhile so the server is not stuck.
    Task<Status> flush(Clock::time_point deadline) {
        for (;;) {
            const int r = pq().PQflush(conn);
            if (r == 0) co_return Status{};
            if (r < 0) co_return lost("sending to PostgreSQL failed");
            auto done = co_await (wait(Descriptor::wait_write, deadline) || wait(Descriptor::wait_read, deadline));
            const bool ready = done.index() == 0 ? std::get<0>(done) : std::get<1>(done);
            if (!ready) co_return timed_out();
            if (done.index() == 1 && !pq().PQconsumeInput(conn)) co_return lost("reading from PostgreSQL failed");
        }
    }

    Error timed_out() {
        broken = true;   // a half-read answer cannot be resumed
        return Error{"PostgreSQL did not answer within " + std::to_string(settings.query_timeout.count()) + " ms", "57014", true};
    }

    // The next result, reading as needed; nullptr between the results of two statements.
    Task<Result<PGresult*>> next_result(Clock::time_point deadline) {
        while (pq().PQisBusy(conn)) {
            const bool readable = co_await wait(Descriptor::wait_read, deadline);
            if (!readable) co_return timed_out();
            if (!pq().PQconsumeInput(conn)) co_return lost("reading from PostgreSQL failed");
        }
        co_return pq().PQgetResult(conn);
    }

    net::any_io_executor executor;
    const Settings& settings;
    PGconn* conn = nullptr;
    Descriptor socket;
    int watched_fd = -1;
    bool broken = true;
    std::set<std::string, std::less<>> prepared;   // statement names prepared on this connection
};

Connection::Connection(net::any_io_executor executor, const Settings& settings)
    : impl_(std::make_unique<Impl>(std::move(executor), settings)) {}

Connection::~Connection() = default;

bool Connection::usable() const { return impl_->conn != nullptr && !impl_->broken && pq().PQstatus(impl_->conn) == CONNECTION_OK; }

Task<Status> Connection::connect() {
    auto& s = *impl_;
    s.close();
    const auto deadline = Clock::now() + s.settings.connect_timeout;
    const auto where = "cannot connect to PostgreSQL at " + redact(s.settings.url);
    std::string missing;
    if (libpq::load(missing) == nullptr) co_return Error{where + ": " + missing, "58000"};
    s.conn = pq().PQconnectStart(s.settings.url.c_str());
    if (s.conn == nullptr) co_return Error{where + ": out of memory", "08000", true};
    if (pq().PQstatus(s.conn) == CONNECTION_BAD) co_return Error{where + ": " + trimmed(pq().PQerrorMessage(s.conn)), "08000", true};
    if (pq().PQsetnonblocking(s.conn, 1) != 0) co_return Error{where + ": " + trimmed(pq().PQerrorMessage(s.conn)), "08000", true};
    for (;;) {
        const auto step = pq().PQconnectPoll(s.conn);
        if (step == PGRES_POLLING_OK) break;
        if (step == PGRES_POLLING_FAILED) co_return Error{where + ": " + trimmed(pq().PQerrorMessage(s.conn)), "08000", true};
        s.adopt_socket();
        const auto what = step == PGRES_POLLING_WRITING ? Descriptor::wait_write : Descriptor::wait_read;
        const bool ready = co_await s.wait(what, deadline);
        if (!ready) {
            co_return Error{where + ": no answer within " + std::to_string(s.settings.connect_timeout.count()) + " ms", "08000", true};
        }
    }
    s.adopt_socket();
    pq().PQsetNoticeProcessor(s.conn, log_notice, nullptr);
    s.broken = false;
    co_return Status{};
}

Task<Result<std::vector<Rows>>> Connection::run(std::span<const Query> queries) {
    auto& s = *impl_;
    if (!usable()) co_return Error{"the PostgreSQL connection is closed", "08003", true};
    const auto deadline = Clock::now() + s.settings.query_timeout;
    if (pq().PQenterPipelineMode(s.conn) != 1) co_return s.lost("entering pipeline mode failed");
    pipelines.fetch_add(1, std::memory_order_relaxed);
    // What each result in the pipeline answers: a statement (its index), or the preparation
    // prepared_now[-answer - 1].
    std::vector<int> answers;
    std::vector<std::string> prepared_now;
    for (std::size_t i = 0; i < queries.size(); ++i) {
        const auto& q = queries[i];
        std::vector<const char*> values;
        values.reserve(q.params.size());
        for (const auto& p : q.params) values.push_back(p ? p->c_str() : nullptr);
        const int count = static_cast<int>(values.size());
        int sent = 0;
        if (s.settings.prepared_statements && !q.name.empty()) {
            const std::string name(q.name);
            if (!s.prepared.contains(name)) {
                const std::string sql(q.sql);
                if (!pq().PQsendPrepare(s.conn, name.c_str(), sql.c_str(), count, nullptr)) co_return s.lost("preparing a statement failed");
                prepared_now.push_back(name);
                answers.push_back(-static_cast<int>(prepared_now.size()));
            }
            sent = pq().PQsendQueryPrepared(s.conn, name.c_str(), count, values.data(), nullptr, nullptr, 0);
        } else {
            const std::string sql(q.sql);
            sent = pq().PQsendQueryParams(s.conn, sql.c_str(), count, nullptr, values.data(), nullptr, nullptr, 0);
        }
        if (!sent) co_return s.lost("sending a statement failed");
        answers.push_back(static_cast<int>(i));
    }
    if (pq().PQpipelineSync(s.conn) != 1) co_return s.lost("ending the pipeline failed");
    if (auto flushed = co_await s.flush(deadline); !flushed) co_return flushed.error();

    std::vector<Rows> out(queries.size());
    std::optional<Error> failure;
    for (const int answer : answers) {
        // One statement's results, up to the nullptr that ends them.
        for (;;) {
            auto next = co_await s.next_result(deadline);
            if (!next) co_return next.error();
            PGresult* r = next.value();
            if (r == nullptr) break;
            const auto status = pq().PQresultStatus(r);
            if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
                // A statement prepared stays prepared whatever happens later in the pipeline:
                // preparations are not undone by a rollback.
                if (answer < 0) s.prepared.insert(prepared_now[static_cast<std::size_t>(-answer - 1)]);
                if (answer >= 0) {
                    const int rows = pq().PQntuples(r), cols = pq().PQnfields(r);
                    std::vector<std::string> names;
                    for (int c = 0; c < cols; ++c) names.emplace_back(pq().PQfname(r, c));
                    std::vector<std::optional<std::string>> cells;
                    cells.reserve(static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols));
                    for (int row = 0; row < rows; ++row) {
                        for (int c = 0; c < cols; ++c) {
                            if (pq().PQgetisnull(r, row, c)) cells.emplace_back();
                            else cells.emplace_back(std::string(pq().PQgetvalue(r, row, c), static_cast<std::size_t>(pq().PQgetlength(r, row, c))));
                        }
                    }
                    const char* affected = pq().PQcmdTuples(r);
                    out[static_cast<std::size_t>(answer)] = Rows(std::move(names), std::move(cells), affected && *affected ? std::atoll(affected) : 0);
                }
            } else if (status == PGRES_FATAL_ERROR && !failure) {
                const char* state = pq().PQresultErrorField(r, PG_DIAG_SQLSTATE);
                const std::string sqlstate = state ? state : "";
                const bool gone = connection_exception(sqlstate) || pq().PQstatus(s.conn) == CONNECTION_BAD;
                if (gone) s.broken = true;
                if (sqlstate == "26000") s.prepared.clear();   // PgBouncer swapped the backend: nothing is prepared there
                failure = Error{trimmed(pq().PQresultErrorMessage(r)), sqlstate,
                                gone || sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "26000"};
            }
            pq().PQclear(r);
        }
    }
    // The end of the pipeline.
    for (;;) {
        auto next = co_await s.next_result(deadline);
        if (!next) co_return next.error();
        PGresult* r = next.value();
        if (r == nullptr) continue;
        const bool sync = pq().PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        pq().PQclear(r);
        if (sync) break;
    }
    if (pq().PQexitPipelineMode(s.conn) != 1) co_return s.lost("leaving pipeline mode failed");
    if (failure) co_return *failure;
    co_return out;
}

Task<Result<Rows>> Connection::run(const Query& query) {
    auto rows = co_await run(std::span<const Query>(&query, 1));
    if (!rows) co_return rows.error();
    co_return std::move(rows.value().front());
}

Task<Status> Connection::script(std::string_view sql) {
    auto& s = *impl_;
    if (!usable()) co_return Error{"the PostgreSQL connection is closed", "08003", true};
    const auto deadline = std::chrono::steady_clock::now() + s.settings.query_timeout;
    const std::string text(sql);
    if (!pq().PQsendQuery(s.conn, text.c_str())) co_return s.lost("sending a script failed");
    if (auto flushed = co_await s.flush(deadline); !flushed) co_return flushed.error();
    std::optional<Error> failure;
    for (;;) {
        auto next = co_await s.next_result(deadline);
        if (!next) co_return next.error();
        PGresult* r = next.value();
        if (r == nullptr) break;
        if (pq().PQresultStatus(r) == PGRES_FATAL_ERROR && !failure) {
            const char* state = pq().PQresultErrorField(r, PG_DIAG_SQLSTATE);
            failure = Error{trimmed(pq().PQresultErrorMessage(r)), state ? state : ""};
        }
        pq().PQclear(r);
    }
    if (failure) co_return *failure;
    co_return Status{};
}

std::size_t Rows::column(std::string_view name) const {
    for (std::size_t i = 0; i < columns_.size(); ++i) {
        if (columns_[i] == name) return i;
    }
    return columns_.size();
}

std::string_view Rows::text(std::size_t row, std::size_t col) const {
    if (col >= columns_.size()) return {};
    const auto& cell = cells_.at(row * columns_.size() + col);
    return cell ? std::string_view(*cell) : std::string_view();
}

std::int64_t Rows::integer(std::size_t row, std::size_t col) const {
    const auto t = text(row, col);
    return t.empty() ? 0 : std::atoll(std::string(t).c_str());
}

namespace {
void append_element(std::string& out, std::string_view v) {
    out += '"';
    for (const char c : v) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
}
}  // namespace

std::string array_literal(std::span<const std::optional<std::string>> values) {
    std::string out = "{";
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i > 0) out += ',';
        if (values[i]) append_element(out, *values[i]);
        else out += "NULL";
    }
    return out + "}";
}

std::string array_literal(std::span<const std::string> values) {
    std::string out = "{";
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i > 0) out += ',';
        append_element(out, values[i]);
    }
    return out + "}";
}

std::string redact(std::string_view url) {
    // postgresql://user:password@host/db → postgresql://user@host/db; key=value: drop password=...
    std::string out(url);
    const auto scheme = out.find("://");
    if (scheme != std::string::npos) {
        const auto at = out.find('@', scheme + 3);
        const auto colon = out.find(':', scheme + 3);
        if (at != std::string::npos && colon != std::string::npos && colon < at) out.erase(colon, at - colon);
        return out;
    }
    const auto pw = out.find("password=");
    if (pw != std::string::npos) {
        auto end = out.find(' ', pw);
        out.replace(pw, (end == std::string::npos ? out.size() : end) - pw, "password=***");
    }
    return out;
}

}  // namespace wappa::pg
