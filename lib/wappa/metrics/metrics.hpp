#pragma once
// Prometheus metrics: counters with labels and latency histograms, rendered in the text format.
#include <algorithm>
#include <array>
#include <initializer_list>
#include <string_view>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace wappa::metrics {

using Labels = std::initializer_list<std::string_view>;

class Counter {
public:
    Counter(std::string name, std::string help, std::vector<std::string> label_names);
    // Allocates only the first time a label set is seen: this runs once per request.
    void inc(Labels label_values, std::uint64_t n = 1);
    std::uint64_t value(Labels label_values) const;
    void render(std::string& out) const;
    const std::string& name() const { return name_; }

private:
    // Orders stored label sets against the caller's views without building strings.
    struct Less {
        using is_transparent = void;
        template <class A, class B>
        bool operator()(const A& a, const B& b) const {
            return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                                [](std::string_view x, std::string_view y) { return x < y; });
        }
    };
    std::string name_, help_;
    std::vector<std::string> label_names_;
    mutable std::mutex mutex_;
    std::map<std::vector<std::string>, std::uint64_t, Less> values_;
};

class Histogram {
public:
    static constexpr std::array<double, 12> bounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1,    5};
    Histogram(std::string name, std::string help);
    void observe(double seconds);
    void render(std::string& out) const;

private:
    std::string name_, help_;
    std::array<std::atomic<std::uint64_t>, bounds.size() + 1> buckets_{};
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_micros_{0};
};

// A value read when /metrics is scraped (queue depths...).
struct Gauge {
    std::string name, help;
    std::function<double()> read;
};

// Labelled values read when /metrics is scraped (per tenant...).
struct Sample {
    std::vector<std::string> labels;
    double value = 0;
};
struct GaugeFamily {
    std::string name, help;
    std::vector<std::string> label_names;
    std::function<std::vector<Sample>()> read;
    std::string type = "gauge";   // "counter" for totals kept elsewhere, read on scrape
};

class Registry {
public:
    Counter& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
    Histogram& histogram(std::string name, std::string help);
    void gauge(std::string name, std::string help, std::function<double()> read);
    void gauge_family(std::string name, std::string help, std::vector<std::string> label_names,
                      std::function<std::vector<Sample>()> read);
    // Totals counted outside the registry, read on scrape; registered once per name.
    void counter_family(std::string name, std::string help, std::vector<std::string> label_names,
                        std::function<std::vector<Sample>()> read);
    std::string render() const;

private:
    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<Counter>> counters_;
    std::vector<std::unique_ptr<Histogram>> histograms_;
    std::vector<Gauge> gauges_;
    std::vector<GaugeFamily> families_;
};

}  // namespace wappa::metrics
