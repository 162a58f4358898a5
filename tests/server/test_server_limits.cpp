// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The real rtcstream-signalling binary against what an attacker or an unlucky
// operator does: silent, slow (slowloris) and half-sent requests, huge
// Content-Lengths, running the server out of file descriptors, many
// connections from one address, WHIP sessions that never connect, names
// that decode to "..", websocket frames far over the limit. Each limit is
// set short with its command-line flag so the tests stay fast.
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "raw-http.h"
#include "server-fixture.h"
#include "whip-offer.h"

namespace {

// The server's resident memory in KiB and open descriptors, from /proc.
long
rss_kib (int pid)
{
  g_autofree char *status = nullptr;
  const std::string path = "/proc/" + std::to_string (pid) + "/status";
  if (!g_file_get_contents (path.c_str (), &status, nullptr, nullptr))
    return -1;
  const char *line = std::strstr (status, "VmRSS:");
  return line ? std::atol (line + 6) : -1;
}

int
open_fds (int pid)
{
  const std::string path = "/proc/" + std::to_string (pid) + "/fd";
  GDir *dir = g_dir_open (path.c_str (), 0, nullptr);
  if (!dir)
    return -1;
  int n = 0;
  while (g_dir_read_name (dir))
    n++;
  g_dir_close (dir);
  return n;
}

class ServerLimits : public ServerProcess {
protected:
  // The names of the streams the hub lists.
  std::set<std::string> listed ()
  {
    Client probe (ctx_, session_);
    std::set<std::string> names;
    if (!probe.join (url_))
      return names;
    probe.send ({ { "type", "list" } });
    auto reply = probe.next ();
    if (reply)
      for (const auto &p : (*reply)["producers"])
        names.insert (p["meta"].value ("name", ""));
    return names;
  }

  // Skips the test when the server cannot run WHIP sessions here.
  bool whip_available (const Reply &r)
  {
    return !(r.status == 503 && r.body.find ("not installed") != std::string::npos);
  }
};

}  // namespace

// Silent connections, headers sent a byte at a time (slowloris) and bodies
// that stop half way are all closed after their deadline, and their
// descriptors come back; a normal client is served throughout.
TEST_F (ServerLimits, SilentSlowAndHalfSentRequestsAreClosed)
{
  ASSERT_NO_FATAL_FAILURE (start ({ "--header-timeout", "2", "--body-timeout", "2" }));
  const int fds_before = open_fds (pid ());
  std::vector<std::unique_ptr<Raw>> silent, slow, partial;
  for (int i = 0; i < 30; i++) {
    silent.push_back (std::make_unique<Raw> (port_));
    slow.push_back (std::make_unique<Raw> (port_));
    slow.back ()->send ("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    partial.push_back (std::make_unique<Raw> (port_));
    partial.back ()->send ("POST /whip/cam HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
        "application/sdp\r\nContent-Length: 5000\r\n\r\nv=0\r\n");
  }
  for (auto *group : { &silent, &slow, &partial })
    for (auto &r : *group)
      ASSERT_TRUE (r->connected ());
  g_usleep (500 * 1000);
  for (auto *group : { &silent, &slow, &partial })
    for (auto &r : *group)
      EXPECT_FALSE (r->read_closed ()) << "closed before its deadline";
  EXPECT_GE (open_fds (pid ()), fds_before + 90);

  // A header line every 300 ms keeps bytes coming, as slowloris does.
  const gint64 end = g_get_monotonic_time () + 8 * G_USEC_PER_SEC;
  int tick = 0;
  auto all_closed = [&] {
    bool all = true;
    for (auto *group : { &silent, &slow, &partial })
      for (auto &r : *group)
        all = r->read_closed () && all;
    return all;
  };
  while (!all_closed () && g_get_monotonic_time () < end) {
    for (auto &r : slow)
      if (!r->read_closed ())
        r->send ("X-Slow-" + std::to_string (tick) + ": 1\r\n");
    tick++;
    g_usleep (300 * 1000);
  }
  int open = 0;
  for (auto *group : { &silent, &slow, &partial })
    for (auto &r : *group)
      open += !r->read_closed ();
  EXPECT_EQ (open, 0) << "connections the server never closed";

  EXPECT_EQ (request (port_, "GET", "/").status, 200);
  EXPECT_TRUE (eventually ([&] { return open_fds (pid ()) <= fds_before + 2; }, 3000))
      << open_fds (pid ()) << " descriptors open, " << fds_before << " before";
}

// A body announced as 10 GB (and never sent) or 1 GiB (and sent) is refused
// from its Content-Length at once, on any path, without the server reading
// it: its memory does not grow. With a token set, a request without it gets
// 401 first, before any body.
TEST_F (ServerLimits, LargeBodiesAreRefusedBeforeTheyAreRead)
{
  ASSERT_NO_FATAL_FAILURE (start ({ "--whip-token", "s3cret" }));
  const long rss_before = rss_kib (pid ());
  ASSERT_GT (rss_before, 0);

  const std::string huge = "Content-Type: application/sdp\r\nContent-Length: 10737418240\r\n";
  for (const char *path : { "/whip/cam", "/whep/cam", "/", "/ws", "/index.html" }) {
    Raw raw (port_);
    const std::string auth = g_str_has_prefix (path, "/whip/")
        ? "Authorization: Bearer s3cret\r\n" : "";
    raw.send (std::string ("POST ") + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth + huge +
        "\r\n");
    EXPECT_TRUE (raw.closed_within (5000)) << path << ": the connection stayed open";
    EXPECT_EQ (raw.status_line (), "HTTP/1.1 413 Request Entity Too Large") << path;
  }
  {
    Raw raw (port_);
    raw.send ("POST /whip/cam HTTP/1.1\r\nHost: 127.0.0.1\r\n" + huge + "\r\n");
    EXPECT_TRUE (raw.closed_within (5000));
    EXPECT_EQ (raw.status_line (), "HTTP/1.1 401 Unauthorized") << "the token comes first";
    EXPECT_NE (raw.received.find ("WWW-Authenticate: Bearer"), std::string::npos);
    EXPECT_NE (raw.received.find ("Access-Control-Allow-Origin: *"), std::string::npos);
  }

  // 1 GiB sent as fast as the server takes it.
  constexpr guint64 kGiB = 1024ull * 1024 * 1024;
  for (const char *path : { "/whip/cam", "/" }) {
    Raw raw (port_);
    raw.send (std::string ("PUT ") + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Authorization: Bearer s3cret\r\nContent-Type: application/sdp\r\nContent-Length: " +
        std::to_string (kGiB) + "\r\n\r\n");
    std::atomic<guint64> sent{ 0 };
    std::thread writer ([&] {
      const std::string chunk (256 * 1024, 'a');
      while (sent < kGiB) {
        ssize_t n = ::send (raw.fd (), chunk.data (), chunk.size (), MSG_NOSIGNAL);
        if (n <= 0)
          break;
        sent += static_cast<guint64> (n);
      }
    });
    const bool closed = raw.closed_within (20000);
    shutdown (raw.fd (), SHUT_RDWR);
    writer.join ();
    EXPECT_TRUE (closed) << path;
    EXPECT_EQ (raw.status_line ().substr (0, 12), "HTTP/1.1 413") << path << ": "
        << raw.status_line ();
    EXPECT_LT (sent, kGiB) << path << ": the server read the whole body";
  }
  const long growth = rss_kib (pid ()) - rss_before;
  EXPECT_LT (growth, 8 * 1024) << "RSS grew by " << growth << " KiB";
  RecordProperty ("rss_growth_kib", std::to_string (growth));
}

// Out of file descriptors (ulimit -n 256), the server sheds what it cannot
// take, refuses a WHIP session rather than dying, and once the descriptors
// are free again serves new clients.
TEST_F (ServerLimits, AcceptsAgainAfterRunningOutOfDescriptors)
{
  ASSERT_NO_FATAL_FAILURE (start ({ "--header-timeout", "60" },
      { "prlimit", "--nofile=256:256", "--" }));
  std::vector<std::unique_ptr<Raw>> held;
  for (int i = 0; i < 300; i++)
    held.push_back (std::make_unique<Raw> (port_));
  g_usleep (500 * 1000);
  int shed = 0;
  for (auto &r : held)
    shed += r && r->read_closed ();
  EXPECT_GT (shed, 0) << "300 connections fit in 256 descriptors?";
  EXPECT_LE (open_fds (pid ()), 256);

  // A WHIP offer now finds no room for a session: 503, and the server lives.
  int freed = 0;
  for (auto &h : held)
    if (freed < 10 && !h->read_closed ()) {
      h.reset ();  // a few descriptors free, too few for a session
      freed++;
    }
  g_usleep (300 * 1000);
  Reply r = request (port_, "POST", "/whip/cam", static_offer ("sendonly"), "", "127.0.0.1", 5000);
  EXPECT_EQ (r.status, 503) << r.body;
  EXPECT_NE (r.body.find ("file descriptors"), std::string::npos) << r.body;

  held.clear ();
  EXPECT_TRUE (eventually ([&] { return request (port_, "GET", "/", "", "", "127.0.0.1",
      2000).status == 200; }, 10000)) << "the server never accepted again";
  EXPECT_TRUE (still_alive ());
}

// At most --max-connections-per-ip from one address and --max-connections in
// all; others are closed at once, and room comes back when one leaves.
TEST_F (ServerLimits, ConnectionsPerAddressAndInAll)
{
  ASSERT_NO_FATAL_FAILURE (start ({ "--max-connections-per-ip", "4", "--max-connections", "6",
      "--header-timeout", "60" }));
  std::vector<std::unique_ptr<Raw>> a;
  for (int i = 0; i < 4; i++)
    a.push_back (std::make_unique<Raw> (port_, "127.0.0.2"));
  Raw fifth (port_, "127.0.0.2");
  EXPECT_TRUE (fifth.closed_within (2000)) << "a fifth connection from one address";
  Raw other (port_, "127.0.0.3");
  Raw other2 (port_, "127.0.0.3");
  EXPECT_FALSE (other.closed_within (300)) << "another address has room";
  Raw seventh (port_, "127.0.0.4");
  EXPECT_TRUE (seventh.closed_within (2000)) << "a seventh connection in all";
  for (auto &r : a)
    EXPECT_FALSE (r->read_closed ());

  a.pop_back ();
  g_usleep (300 * 1000);
  Raw again (port_, "127.0.0.2");
  again.send ("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_TRUE (again.closed_within (5000));
  EXPECT_EQ (again.status_line (), "HTTP/1.1 200 OK");
}

// The backlog given (or 1024) is the listening socket's, as ss shows it.
TEST_F (ServerLimits, ListenBacklog)
{
  for (const char *backlog : { "77", "" }) {
    std::vector<std::string> args;
    if (*backlog)
      args = { "--listen-backlog", backlog };
    ASSERT_NO_FATAL_FAILURE (start (args));
    const std::string cmd = "ss -Hltn sport = :" + std::to_string (port_);
    g_autofree char *out = nullptr;
    ASSERT_TRUE (g_spawn_command_line_sync (cmd.c_str (), &out, nullptr, nullptr, nullptr));
    // State Recv-Q Send-Q ...: Send-Q is the backlog of a listening socket.
    g_auto (GStrv) fields = g_strsplit_set (g_strstrip (out), " \t", -1);
    std::vector<std::string> words;
    for (char **f = fields; *f; f++)
      if (**f)
        words.emplace_back (*f);
    ASSERT_GE (words.size (), 3u) << out;
    EXPECT_EQ (words[2], *backlog ? backlog : "1024") << out;
    EXPECT_EQ (terminate (), 0);
    g_clear_object (&proc_);
    exited_ = false;
  }
}

// WHIP/WHEP sessions are capped per address and in all (503), and a
// session whose client never connects is ended after --whip-connect-timeout:
// its name is free again and its pipeline gone.
TEST_F (ServerLimits, WhipSessionsAreCappedAndNeverConnectingOnesReaped)
{
  ASSERT_NO_FATAL_FAILURE (start ({ "--max-whip-sessions", "3", "--max-whip-sessions-per-ip",
      "2", "--whip-connect-timeout", "3" }));
  const int fds_before = open_fds (pid ());
  Reply a = request (port_, "POST", "/whip/a", static_offer ("sendonly"));
  if (!whip_available (a))
    GTEST_SKIP () << "no rtcstream plugin for the server: " << a.body;
  ASSERT_EQ (a.status, 201) << a.body;
  Reply b = request (port_, "POST", "/whip/b", static_offer ("sendonly"));
  ASSERT_EQ (b.status, 201) << b.body;
  Reply c = request (port_, "POST", "/whip/c", static_offer ("sendonly"));
  EXPECT_EQ (c.status, 503) << c.body;
  EXPECT_NE (c.body.find ("--max-whip-sessions-per-ip"), std::string::npos) << c.body;
  Reply d = request (port_, "POST", "/whip/d", static_offer ("sendonly"), "", "127.0.0.2");
  EXPECT_EQ (d.status, 201) << d.body;
  Reply e = request (port_, "POST", "/whip/e", static_offer ("sendonly"), "", "127.0.0.3");
  EXPECT_EQ (e.status, 503) << e.body;
  EXPECT_NE (e.body.find ("--max-whip-sessions)"), std::string::npos) << e.body;
  EXPECT_EQ (listed (), (std::set<std::string>{ "a", "b", "d" }));
  EXPECT_EQ (request (port_, "POST", "/whip/a", static_offer ("sendonly"), "",
      "127.0.0.3").status, 409) << "the name is taken while the session lives";

  // Nobody connects: the three are reaped.
  EXPECT_TRUE (eventually ([&] { return listed ().empty (); }, 10000))
      << "sessions that never connected still hold their names";
  Reply again = request (port_, "POST", "/whip/a", static_offer ("sendonly"));
  EXPECT_EQ (again.status, 201) << "the name is free again: " << again.body;
  ASSERT_FALSE (again.header ("Location").empty ());
  EXPECT_EQ (request (port_, "DELETE", again.header ("Location")).status, 200);
  EXPECT_TRUE (eventually ([&] { return open_fds (pid ()) <= fds_before + 4; }, 10000))
      << open_fds (pid ()) << " descriptors open, " << fds_before << " before: pipelines left";
}

// Names are decoded once: "%252e%252e" is the name "%2e%2e", listed and
// deleted as such, never ".."; "..", "/" and bidirectional controls are
// refused with 400 and the log shows names escaped.
TEST_F (ServerLimits, StreamNamesAreDecodedOnceAndChecked)
{
  g_autofree char *tmp = g_build_filename (g_get_tmp_dir (), "rtcstream-names-XXXXXX.log",
      nullptr);
  int fd = g_mkstemp (tmp);
  ASSERT_GE (fd, 0);
  close (fd);
  log_path_ = tmp;
  ASSERT_NO_FATAL_FAILURE (start ());
  for (const char *bad : { "/whip/a%2Fb", "/whip/a%5Cb", "/whip/%E2%80%AEevil",
           "/whip/%e2%81%a6x", "/whep/x%01" }) {
    Reply r = request (port_, "POST", bad, static_offer ("sendonly"));
    EXPECT_EQ (r.status, 400) << bad << ": " << r.body;
    EXPECT_NE (r.body.find ("stream name"), std::string::npos) << bad << ": " << r.body;
  }
  // Dot segments are resolved with the URL (to "/" or "/whip/"), and a NUL
  // does not decode: never a stream.
  for (const char *bad : { "/whip/%2e%2e", "/whip/%2E", "/whep/%2e%2e", "/whip/a%00b" }) {
    Reply r = request (port_, "POST", bad, static_offer ("sendonly"));
    EXPECT_TRUE (r.status >= 400 && r.status < 500) << bad << ": " << r.status << " " << r.body;
  }
  Reply r = request (port_, "POST", "/whip/%252e%252e", static_offer ("sendonly"));
  if (!whip_available (r))
    GTEST_SKIP () << "no rtcstream plugin for the server: " << r.body;
  ASSERT_EQ (r.status, 201) << r.body;
  EXPECT_EQ (listed (), (std::set<std::string>{ "%2e%2e" }));
  const std::string location = r.header ("Location");
  EXPECT_EQ (location.rfind ("/whip/%252e%252e/", 0), 0u) << location;
  EXPECT_EQ (request (port_, "DELETE", location).status, 200);
  EXPECT_TRUE (eventually ([&] { return listed ().empty (); }, 5000));

  // No refused name reaches the log as it was sent.
  Reply bidi = request (port_, "POST", "/whip/ab%E2%80%8Fcd", static_offer ("sendonly"));
  EXPECT_EQ (bidi.status, 400) << bidi.body;
  const std::string log = server_log ();
  EXPECT_EQ (log.find ("\xE2\x80\xAE"), std::string::npos);
  EXPECT_EQ (log.find ("\xE2\x80\x8F"), std::string::npos);
  EXPECT_NE (log.find ("%2e%2e"), std::string::npos) << log;
}

// A frame far over the message limit gets the close code 1009 the protocol
// documents, every time, not a reset; other peers go on.
TEST_F (ServerLimits, FramesFarOverTheLimitGetClose1009)
{
  const std::size_t limit = 8192;
  ASSERT_NO_FATAL_FAILURE (start ({ "--max-message-size", std::to_string (limit) }));
  Client &bystander = join ();
  for (int i = 0; i < 5; i++) {
    Client &rogue = join ();
    rogue.send_text (std::string (limit + 1024 * 1024, ' '));
    EXPECT_TRUE (rogue.wait_closed ());
    EXPECT_EQ (rogue.close_code (), SOUP_WEBSOCKET_CLOSE_TOO_BIG) << "attempt " << i;
  }
  bystander.send ({ { "type", "list" } });
  bystander.expect ("list");
}

// Every new limit's option refuses nonsense with status 2.
TEST_F (ServerLimits, LimitOptionsAreChecked)
{
  for (const char *option : { "--listen-backlog", "--max-connections", "--max-connections-per-ip",
           "--header-timeout", "--body-timeout", "--max-whip-sessions",
           "--max-whip-sessions-per-ip", "--whip-connect-timeout" }) {
    EXPECT_EQ (exit_status ({ "--port", "0", option, "0" }), 2) << option;
    EXPECT_EQ (exit_status ({ "--port", "0", option, "many" }), 2) << option;
  }
  EXPECT_EQ (exit_status ({ "--port", "0", "--listen-backlog", "70000" }), 2);
  EXPECT_EQ (exit_status ({ "--port", "0", "--header-timeout", "86401" }), 2);
}
