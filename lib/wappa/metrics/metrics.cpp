#include "wappa/metrics/metrics.hpp"

#include <cstdio>
#include <string_view>

namespace wappa::metrics {
namespace {

// Rendering appends piece by piece: GCC 12 at -O2 warns (-Wstringop-overflow, a false positive)
// on chains of `"literal" + std::string` temporaries, and appending is cheaper anyway.
void header(std::string& out, const std::string& name, const std::string& help, const char* type) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name).append(" ").append(type).append("\n");
}

void line(std::string& out, const std::string& name, std::string_view labels, std::string_view value) {
    out.append(name).append(labels).append(" ").append(value).append("\n");
}

std::string escape_label(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

void append_labels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values) {
    if (values.empty()) return;
    out += '{';
    for (std::size_t i = 0; i < values.size() && i < names.size(); ++i) {
        if (i > 0) out += ',';
        out.append(names[i]).append("=\"").append(escape_label(values[i])).append("\"");
    }
    out += '}';
}

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

}  // namespace

Counter::Counter(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

void Counter::inc(Labels label_values, std::uint64_t n) {
    std::lock_guard lock(mutex_);
    auto it = values_.find(label_values);
    if (it == values_.end()) {
        it = values_.emplace(std::vector<std::string>(label_values.begin(), label_values.end()), 0).first;
    }
    it->second += n;
}

std::uint64_t Counter::value(Labels label_values) const {
    std::lock_guard lock(mutex_);
    const auto it = values_.find(label_values);
    return it == values_.end() ? 0 : it->second;
}

void Counter::render(std::string& out) const {
    header(out, name_, help_, "counter");
    std::lock_guard lock(mutex_);
    if (values_.empty() && label_names_.empty()) line(out, name_, "", "0");
    for (const auto& [labels, value] : values_) {
        std::string rendered;
        append_labels(rendered, label_names_, labels);
        line(out, name_, rendered, std::to_string(value));
    }
}

Histogram::Histogram(std::string name, std::string help) : name_(std::move(name)), help_(std::move(help)) {}

void Histogram::observe(double seconds) {
    std::size_t i = 0;
    while (i < bounds.size() && seconds > bounds[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_micros_.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void Histogram::render(std::string& out) const {
    header(out, name_, help_, "histogram");
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        cumulative += buckets_[i].load(std::memory_order_relaxed);
        out.append(name_).append("_bucket{le=\"").append(number(bounds[i])).append("\"} ").append(std::to_string(cumulative)).append("\n");
    }
    cumulative += buckets_[bounds.size()].load(std::memory_order_relaxed);
    out.append(name_).append("_bucket{le=\"+Inf\"} ").append(std::to_string(cumulative)).append("\n");
    out.append(name_).append("_sum ").append(number(static_cast<double>(sum_micros_.load()) / 1e6)).append("\n");
    out.append(name_).append("_count ").append(std::to_string(count_.load())).append("\n");
}

Counter& Registry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
    std::lock_guard lock(mutex_);
    // Two parts of one process counting the same thing (both workers' PostgreSQL errors) share it.
    for (auto& c : counters_) {
        if (c->name() == name) return *c;
    }
    counters_.push_back(std::make_unique<Counter>(std::move(name), std::move(help), std::move(label_names)));
    return *counters_.back();
}

Histogram& Registry::histogram(std::string name, std::string help) {
    std::lock_guard lock(mutex_);
    histograms_.push_back(std::make_unique<Histogram>(std::move(name), std::move(help)));
    return *histograms_.back();
}

void Registry::gauge(std::string name, std::string help, std::function<double()> read) {
    std::lock_guard lock(mutex_);
    gauges_.push_back({std::move(name), std::move(help), std::move(read)});
}

void Registry::gauge_family(std::string name, std::string help, std::vector<std::string> label_names,
                            std::function<std::vector<Sample>()> read) {
    std::lock_guard lock(mutex_);
    families_.push_back({std::move(name), std::move(help), std::move(label_names), std::move(read)});
}

void Registry::counter_family(std::string name, std::string help, std::vector<std::string> label_names,
                              std::function<std::vector<Sample>()> read) {
    std::lock_guard lock(mutex_);
    for (const auto& f : families_) {
        if (f.name == name) return;
    }
    families_.push_back({std::move(name), std::move(help), std::move(label_names), std::move(read), "counter"});
}

std::string Registry::render() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& c : counters_) c->render(out);
    for (const auto& h : histograms_) h->render(out);
    for (const auto& g : gauges_) {
        header(out, g.name, g.help, "gauge");
        line(out, g.name, "", number(g.read()));
    }
    for (const auto& f : families_) {
        header(out, f.name, f.help, f.type.c_str());
        for (const auto& sample : f.read()) {
            std::string rendered;
            append_labels(rendered, f.label_names, sample.labels);
            line(out, f.name, rendered, number(sample.value));
        }
    }
    return out;
}

}  // namespace wappa::metrics
