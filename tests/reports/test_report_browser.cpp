// The HTML report in a real browser: headless Chromium (Debian `chromium`, installed by
// scripts/setup.sh) loads the file from disk, driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe: no port, no network). Checks: no console error or failed request,
// every chart's box holds enough drawn pixels in a full-page screenshot at 1280 px, and at phone
// width (390 px) every chart shows its narrow drawing legibly with drawn pixels in a screenshot
// of its box, and neither the page nor a box in it scrolls sideways. TB_REPORT_SHOTS=DIR keeps
// the screenshots. Skipped, saying why, where Chromium cannot start.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>

#include <gtest/gtest.h>
#include <png.h>
#include <nlohmann/json.hpp>

#include "report_fixture.h"
#include "reports.h"

extern char** environ;

namespace tb {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string find_chromium() {
  if (const char* c = std::getenv("TB_CHROMIUM")) return c;
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (access(p, X_OK) == 0) return p;
  return "";
}

// A DevTools protocol client over Chromium's pipe (fd 3: commands in, fd 4: replies out, each
// message a JSON text ended by a NUL byte).
class Cdp {
 public:
  ~Cdp() {
    if (to_ >= 0) close(to_);
    if (from_ >= 0) close(from_);
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int st = 0;
      waitpid(pid_, &st, 0);
    }
  }

  std::string start(const std::string& exe, const std::string& profile) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) return "pipe failed";
    // Keep our ends above the fds the child needs, so dup2 never maps a fd onto itself.
    const auto high = [](int fd) {
      const int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);
      close(fd);
      return h;
    };
    for (int* fd : {&in[0], &in[1], &out[0], &out[1]}) *fd = high(*fd);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 3);
    posix_spawn_file_actions_adddup2(&fa, out[1], 4);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> args = {exe,
                                     "--headless=new",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--remote-debugging-pipe",
                                     "--no-first-run",
                                     "--no-default-browser-check",
                                     "--disable-extensions",
                                     "--disable-background-networking",
                                     "--hide-scrollbars",
                                     "--user-data-dir=" + profile,
                                     "about:blank"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, exe.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]), close(out[1]);
    to_ = in[1], from_ = out[0];
    if (rc != 0) return "cannot start " + exe + ": " + std::strerror(rc);
    auto targets = call("Target.getTargets", json::object());
    if (targets.is_null()) return "no answer on the DevTools pipe within 60 s";
    return "";
  }

  // Sends a command and waits for its reply; events that arrive meanwhile are kept. Null on
  // timeout; the "error" object when Chromium refused the command.
  json call(const std::string& method, const json& params, const std::string& session = "") {
    json msg = {{"id", ++next_}, {"method", method}, {"params", params}};
    if (!session.empty()) msg["sessionId"] = session;
    const std::string text = msg.dump() + std::string(1, '\0');
    if (write(to_, text.data(), text.size()) != static_cast<ssize_t>(text.size())) return nullptr;
    for (;;) {
      json m = read();
      if (m.is_null()) return nullptr;
      if (m.value("id", -1) == next_) return m.contains("error") ? m["error"] : m["result"];
      events.push_back(std::move(m));
    }
  }

  // Waits for an event by method name (already received or still to come).
  bool wait_for(const std::string& method) {
    for (const auto& e : events)
      if (e.value("method", "") == method) return true;
    for (;;) {
      json m = read();
      if (m.is_null()) return false;
      events.push_back(m);
      if (m.value("method", "") == method) return true;
    }
  }

  std::vector<json> events;

 private:
  json read() {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    for (;;) {
      if (const auto nul = buf_.find('\0'); nul != std::string::npos) {
        json m = json::parse(buf_.substr(0, nul), nullptr, false);
        buf_.erase(0, nul + 1);
        return m;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{from_, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) return nullptr;
      char chunk[65536];
      const ssize_t n = ::read(from_, chunk, sizeof(chunk));
      if (n <= 0) return nullptr;
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  pid_t pid_ = -1;
  int to_ = -1, from_ = -1, next_ = 0;
  std::string buf_;
};

std::string base64_decode(const std::string& in) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned v = 0;
  int bits = 0;
  for (const char c : in) {
    const auto i = kAlphabet.find(c);
    if (i == std::string::npos) continue;  // '=' padding, newlines
    v = (v << 6) | static_cast<unsigned>(i), bits += 6;
    if (bits >= 8) bits -= 8, out.push_back(static_cast<char>((v >> bits) & 0xff));
  }
  return out;
}

struct Image {
  int width = 0, height = 0;
  std::vector<unsigned char> rgb;
};

Image decode_png(const std::string& bytes) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  Image out;
  if (!png_image_begin_read_from_memory(&img, bytes.data(), bytes.size())) return out;
  img.format = PNG_FORMAT_RGB;
  out.rgb.resize(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, out.rgb.data(), 0, nullptr)) return {};
  out.width = static_cast<int>(img.width), out.height = static_cast<int>(img.height);
  return out;
}

// The fraction of pixels in a box that are not the white background.
double ink(const Image& im, int x0, int y0, int w, int h) {
  std::int64_t inked = 0, all = 0;
  for (int y = std::max(y0, 0); y < std::min(y0 + h, im.height); ++y)
    for (int x = std::max(x0, 0); x < std::min(x0 + w, im.width); ++x) {
      const unsigned char* p = &im.rgb[3 * (static_cast<std::size_t>(y) * im.width + x)];
      inked += (255 - p[0]) + (255 - p[1]) + (255 - p[2]) > 60;
      ++all;
    }
  return all ? static_cast<double>(inked) / static_cast<double>(all) : 0;
}

json evaluate(Cdp& cdp, const std::string& session, const std::string& expr) {
  const json r =
      cdp.call("Runtime.evaluate", {{"expression", expr}, {"returnByValue", true}}, session);
  return r.is_object() && r.contains("result") ? r["result"].value("value", json()) : json();
}

TEST(ReportBrowser, LoadsWithoutErrorsAndDrawsEveryChart) {
  const std::string exe = find_chromium();
  if (exe.empty())
    GTEST_SKIP() << "headless Chromium not found (Debian package 'chromium', installed by "
                    "scripts/setup.sh; or set TB_CHROMIUM)";
  test::ReportStore fx;
  reports::ReportOptions o;
  o.run_id = fx.current_run;
  o.base_run_id = fx.base_run;
  const auto page = fx.dir.path() / "report.html";
  std::ofstream(page) << reports::render_html(reports::build_report(*fx.store, o).value());

  Cdp cdp;
  if (const std::string why = cdp.start(exe, (fx.dir.path() / "chromium").string()); !why.empty())
    GTEST_SKIP() << "headless Chromium cannot start here: " << why;
  const json targets = cdp.call("Target.getTargets", json::object());
  std::string target;
  for (const auto& t : targets["targetInfos"])
    if (t["type"] == "page") target = t["targetId"];
  ASSERT_FALSE(target.empty()) << targets.dump();
  const json attached =
      cdp.call("Target.attachToTarget", {{"targetId", target}, {"flatten", true}});
  const std::string s = attached.value("sessionId", "");
  ASSERT_FALSE(s.empty()) << attached.dump();
  for (const char* domain : {"Page.enable", "Runtime.enable", "Log.enable"})
    cdp.call(domain, json::object(), s);
  cdp.call("Emulation.setDeviceMetricsOverride",
           {{"width", 1280}, {"height", 900}, {"deviceScaleFactor", 1}, {"mobile", false}}, s);
  cdp.call("Page.navigate", {{"url", "file://" + page.string()}}, s);
  ASSERT_TRUE(cdp.wait_for("Page.loadEventFired"));

  const json boxes = evaluate(cdp, s, R"(JSON.stringify({
      w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight,
      charts: [...document.querySelectorAll('figure.chart > svg.wide')].map(e => {
        const r = e.getBoundingClientRect();
        return {id: e.parentNode.id, x: r.x + scrollX, y: r.y + scrollY, w: r.width, h: r.height};
      })}))");
  ASSERT_TRUE(boxes.is_string()) << boxes.dump();
  const json b = json::parse(boxes.get<std::string>());
  ASSERT_GE(b["charts"].size(), 5u);
  const json shot = cdp.call(
      "Page.captureScreenshot",
      {{"format", "png"},
       {"captureBeyondViewport", true},
       {"clip", {{"x", 0}, {"y", 0}, {"width", b["w"]}, {"height", b["h"]}, {"scale", 1}}}},
      s);
  ASSERT_TRUE(shot.contains("data")) << shot.dump().substr(0, 300);
  const std::string png = base64_decode(shot["data"].get<std::string>());
  std::ofstream(fx.dir.path() / "report.png", std::ios::binary) << png;
  const Image im = decode_png(png);
  ASSERT_GT(im.width, 1000);
  for (const auto& c : b["charts"]) {
    const int x = c["x"].get<int>(), y = c["y"].get<int>(), w = c["w"].get<int>(),
              h = c["h"].get<int>();
    EXPECT_GT(w, 300) << c.dump();
    EXPECT_GT(h, 100) << c.dump();
    const double f = ink(im, x, y, w, h);
    ::testing::Test::RecordProperty("ink_" + c["id"].get<std::string>(), std::to_string(f));
    EXPECT_GT(f, 0.01) << c["id"] << ": only " << f * 100 << "% of its box is drawn";
  }

  // Phone width (390 px): each chart shows its narrow drawing at a legible scale (its 12 px text
  // drawn at 10 px or more) and holds drawn pixels in a screenshot of its box; nothing scrolls
  // sideways, neither the page nor a box inside it (tables stack their rows instead).
  cdp.call("Emulation.setDeviceMetricsOverride",
           {{"width", 390}, {"height", 844}, {"deviceScaleFactor", 1}, {"mobile", true}}, s);
  const json phone = evaluate(cdp, s, R"(JSON.stringify({
      w: document.documentElement.scrollWidth,
      scrollers: [...document.querySelectorAll('main div, main figure, main pre, main table')]
          .filter(e => e.scrollWidth > e.clientWidth + 1 &&
                       ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))
          .map(e => e.tagName + ' ' + (e.id || e.firstElementChild?.id || e.className)),
      charts: [...document.querySelectorAll('figure.chart')].map(f => {
        const shown = [...f.querySelectorAll(':scope > svg')]
            .filter(e => getComputedStyle(e).display != 'none');
        const r = shown[0].getBoundingClientRect();
        return {id: f.id, shown: shown.length, cls: shown[0].getAttribute('class'),
                x: r.x + scrollX, y: r.y + scrollY, w: r.width, h: r.height,
                vb: shown[0].viewBox.baseVal.width};
      })}))");
  ASSERT_TRUE(phone.is_string()) << phone.dump();
  const json p = json::parse(phone.get<std::string>());
  ::testing::Test::RecordProperty("phone_scroll_width", p["w"].dump());
  EXPECT_LE(p["w"].get<double>(), 390.5) << "the page scrolls sideways at 390 px";
  EXPECT_TRUE(p["scrollers"].empty()) << "boxes that scroll sideways at 390 px: " << p["scrollers"];
  ASSERT_EQ(p["charts"].size(), b["charts"].size());
  const char* shots = std::getenv("TB_REPORT_SHOTS");  // a folder to keep the screenshots in
  for (const auto& c : p["charts"]) {
    const std::string id = c["id"];
    EXPECT_EQ(c["shown"], 1) << id;
    EXPECT_EQ(c["cls"], "narrow") << id;
    const double w = c["w"].get<double>(), h = c["h"].get<double>();
    EXPECT_LE(c["x"].get<double>() + w, 390.5) << id << " is wider than the phone";
    EXPECT_GT(w, 300) << id;
    EXPECT_GE(w / c["vb"].get<double>(), 0.85) << id << ": its text is drawn too small";
    const json clip = {{"x", c["x"]}, {"y", c["y"]}, {"width", w}, {"height", h}, {"scale", 1}};
    const json cut =
        cdp.call("Page.captureScreenshot",
                 {{"format", "png"}, {"captureBeyondViewport", true}, {"clip", clip}}, s);
    ASSERT_TRUE(cut.contains("data")) << cut.dump().substr(0, 300);
    const std::string bytes = base64_decode(cut["data"].get<std::string>());
    if (shots)
      std::ofstream(std::string(shots) + "/phone-" + id + ".png", std::ios::binary) << bytes;
    const Image shot_img = decode_png(bytes);
    ASSERT_GT(shot_img.width, 300) << id;
    const double f = ink(shot_img, 0, 0, shot_img.width, shot_img.height);
    ::testing::Test::RecordProperty("phone_ink_" + id, std::to_string(f));
    EXPECT_GT(f, 0.01) << id << " at 390 px: only " << f * 100 << "% of its box is drawn";
  }
  if (shots) std::ofstream(std::string(shots) + "/report.png", std::ios::binary) << png;

  ::testing::Test::RecordProperty("events", std::to_string(cdp.events.size()));
  for (const auto& e : cdp.events) {
    const std::string m = e.value("method", "");
    const json& pr = e.value("params", json::object());
    EXPECT_FALSE(m == "Runtime.exceptionThrown") << e.dump();
    EXPECT_FALSE(m == "Runtime.consoleAPICalled" && pr.value("type", "") == "error") << e.dump();
    EXPECT_FALSE(m == "Log.entryAdded" && pr["entry"].value("level", "") == "error") << e.dump();
  }
}

}  // namespace
}  // namespace tb
