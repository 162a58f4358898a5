// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The fixture of the server suite: the real rtcstream-signalling binary (path
// in $RTCSTREAM_SIGNALLING), started per test on a free port, driven by real
// libsoup websocket and HTTP clients. Everything runs on a private
// GMainContext with bounded waits.
#pragma once

#include <gtest/gtest.h>

#include <gio/gio.h>
#include <libsoup/soup.h>

#include <glib/gstdio.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rtcstream/protocol.h"

namespace p = rtcstream::protocol;
using nlohmann::json;

namespace {

constexpr int kWaitMs = 5000;  // the longest any single step may take

// Runs `ctx` until `done` holds or `timeout_ms` passes; returns done ().
bool
run_until (GMainContext *ctx, const std::function<bool ()> &done, int timeout_ms = kWaitMs)
{
  bool timed_out = false;
  GSource *timeout = g_timeout_source_new (static_cast<guint> (timeout_ms));
  g_source_set_callback (timeout, [] (gpointer flag) -> gboolean {
    *static_cast<bool *> (flag) = true;
    return G_SOURCE_REMOVE;
  }, &timed_out, nullptr);
  g_source_attach (timeout, ctx);
  while (!done () && !timed_out)
    g_main_context_iteration (ctx, TRUE);
  g_source_destroy (timeout);
  g_source_unref (timeout);
  return done ();
}

// One websocket client. Messages queue up in `inbox` as the context runs.
class Client {
public:
  Client (GMainContext *ctx, SoupSession *session) : ctx_ (ctx), session_ (session) {}
  ~Client ()
  {
    if (ws_) {
      g_signal_handlers_disconnect_by_data (ws_, this);
      if (soup_websocket_connection_get_state (ws_) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (ws_, SOUP_WEBSOCKET_CLOSE_NORMAL, nullptr);
      g_object_unref (ws_);
    }
  }

  // Connects; `bearer`, when given, goes in an Authorization header.
  bool connect (const std::string &url, const std::string &bearer = "")
  {
    struct State {
      Client *self;
      bool done = false;
    } state { this };
    SoupMessage *msg = soup_message_new ("GET", url.c_str ());
    if (!msg)
      return false;
    if (!bearer.empty ())
      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
          ("Bearer " + bearer).c_str ());
    soup_session_websocket_connect_async (session_, msg, nullptr, nullptr, G_PRIORITY_DEFAULT,
        nullptr, [] (GObject *source, GAsyncResult *res, gpointer data) {
      auto *st = static_cast<State *> (data);
      g_autoptr (GError) error = nullptr;
      st->self->ws_ = soup_session_websocket_connect_finish (SOUP_SESSION (source), res, &error);
      if (error)
        st->self->connect_error_ = error->message;
      st->done = true;
    }, &state);
    g_object_unref (msg);
    run_until (ctx_, [&] { return state.done; });
    if (!state.done) {
      // Cannot leave the callback pointing at our stack: wait it out.
      run_until (ctx_, [&] { return state.done; }, 30000);
    }
    if (!ws_)
      return false;
    g_signal_connect (ws_, "message", G_CALLBACK (on_message), this);
    g_signal_connect (ws_, "closed", G_CALLBACK (on_closed), this);
    return true;
  }

  // Connects and reads the welcome.
  bool join (const std::string &url, const std::string &bearer = "")
  {
    if (!connect (url, bearer))
      return false;
    auto welcome = next ();
    if (!welcome || welcome->value ("type", "") != "welcome")
      return false;
    id = welcome->value ("peerId", "");
    return !id.empty ();
  }

  void send (const json &msg) { send_text (msg.dump ()); }
  void send_text (const std::string &text)
  {
    soup_websocket_connection_send_text (ws_, text.c_str ());
  }
  void send_binary (const std::string &data)
  {
    soup_websocket_connection_send_binary (ws_, data.data (), data.size ());
  }
  void close () { soup_websocket_connection_close (ws_, SOUP_WEBSOCKET_CLOSE_NORMAL, "bye"); }

  // The next message (every one must be a valid server message).
  std::optional<json> next (int timeout_ms = kWaitMs)
  {
    run_until (ctx_, [&] { return !inbox.empty (); }, timeout_ms);
    if (inbox.empty ())
      return std::nullopt;
    std::string text = std::move (inbox.front ());
    inbox.pop_front ();
    auto parsed = p::parse_server_message (text);
    EXPECT_TRUE (parsed.ok ()) << text << ": " << parsed.error.details;
    return json::parse (text, nullptr, false);
  }

  // The next message, which must be of `type`; returns it (or an empty object).
  json expect (const std::string &type)
  {
    auto msg = next ();
    EXPECT_TRUE (msg) << "client " << id << " got nothing while waiting for " << type;
    if (!msg)
      return json::object ();
    EXPECT_EQ (msg->value ("type", ""), type) << msg->dump ();
    return *msg;
  }

  // The next message must be an error with `code`.
  void expect_error (const std::string &code)
  {
    json err = expect ("error");
    EXPECT_EQ (err.value ("code", ""), code) << err.dump ();
    EXPECT_FALSE (err.value ("details", "").empty ());
  }

  bool wait_closed (int timeout_ms = kWaitMs)
  {
    return run_until (ctx_, [&] { return closed; }, timeout_ms);
  }

  gushort close_code () const { return soup_websocket_connection_get_close_code (ws_); }

  std::string id;
  std::string connect_error_;
  std::deque<std::string> inbox;
  bool closed = false;

private:
  static void on_message (SoupWebsocketConnection *, gint type, GBytes *data, gpointer self)
  {
    gsize size = 0;
    const auto *bytes = static_cast<const char *> (g_bytes_get_data (data, &size));
    EXPECT_EQ (type, SOUP_WEBSOCKET_DATA_TEXT);
    static_cast<Client *> (self)->inbox.emplace_back (bytes, size);
  }
  static void on_closed (SoupWebsocketConnection *, gpointer self)
  {
    static_cast<Client *> (self)->closed = true;
  }

  GMainContext *ctx_;
  SoupSession *session_;
  SoupWebsocketConnection *ws_ = nullptr;
};

class ServerProcess : public ::testing::Test {
protected:
  void SetUp () override
  {
    ctx_ = g_main_context_new ();
    g_main_context_push_thread_default (ctx_);
    session_ = soup_session_new_with_options ("timeout", 5, nullptr);
  }

  void TearDown () override
  {
    clients_.clear ();
    if (proc_) {
      if (!exited_ && port_ > 0) {
        // Every test ends by checking the server survived, then stopping it
        // the way a service manager would: SIGTERM must give exit status 0.
        EXPECT_TRUE (still_alive ());
        EXPECT_EQ (terminate (), 0);
      }
      if (!exited_) {
        g_subprocess_force_exit (proc_);
        wait_exit (2000);
      }
      g_object_unref (proc_);
    }
    if (!log_path_.empty ())
      g_remove (log_path_.c_str ());
    g_object_unref (session_);
    // Let pending callbacks run before the context goes.
    while (g_main_context_iteration (ctx_, FALSE)) {
    }
    g_main_context_pop_thread_default (ctx_);
    g_main_context_unref (ctx_);
  }

  // Starts the server with --port 0 and `args`, through `prefix` (a command
  // that execs the rest, such as prlimit) when given; reads the URL it prints.
  void start (std::vector<std::string> args = {}, std::vector<std::string> prefix = {})
  {
    const char *binary = g_getenv ("RTCSTREAM_SIGNALLING");
    ASSERT_TRUE (binary) << "RTCSTREAM_SIGNALLING is not set; run through meson test";
    std::vector<const char *> argv;
    for (const std::string &a : prefix)
      argv.push_back (a.c_str ());
    for (const char *a : { binary, "--port", "0" })
      argv.push_back (a);
    for (const std::string &a : args)
      argv.push_back (a.c_str ());
    argv.push_back (nullptr);
    g_autoptr (GError) error = nullptr;
    g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
        G_SUBPROCESS_FLAGS_STDOUT_PIPE);
    if (!log_path_.empty ())
      g_subprocess_launcher_set_stderr_file_path (launcher, log_path_.c_str ());
    proc_ = g_subprocess_launcher_spawnv (launcher, argv.data (), &error);
    ASSERT_TRUE (proc_) << error->message;

    g_autoptr (GDataInputStream) out = g_data_input_stream_new (
        g_subprocess_get_stdout_pipe (proc_));
    struct State {
      bool done = false;
      std::string line;
    } state;
    g_data_input_stream_read_line_async (out, G_PRIORITY_DEFAULT, nullptr,
        [] (GObject *source, GAsyncResult *res, gpointer data) {
      auto *st = static_cast<State *> (data);
      g_autofree char *line = g_data_input_stream_read_line_finish (
          G_DATA_INPUT_STREAM (source), res, nullptr, nullptr);
      if (line)
        st->line = line;
      st->done = true;
    }, &state);
    if (!run_until (ctx_, [&] { return state.done; })) {
      g_subprocess_force_exit (proc_);
      run_until (ctx_, [&] { return state.done; });
      FAIL () << "the server printed nothing within " << kWaitMs << " ms";
    }
    const std::string prefix = "rtcstream-signalling listening on ws://127.0.0.1:";
    ASSERT_EQ (state.line.rfind (prefix, 0), 0u) << state.line;
    ASSERT_EQ (state.line.substr (state.line.size () - 3), "/ws") << state.line;
    port_ = std::stoi (state.line.substr (prefix.size ()));
    ASSERT_GT (port_, 0);
    url_ = state.line.substr (state.line.find ("ws://"));
  }

  // A client that connected and got its welcome.
  Client &join (const std::string &url = "", const std::string &bearer = "")
  {
    clients_.push_back (std::make_unique<Client> (ctx_, session_));
    Client &c = *clients_.back ();
    EXPECT_TRUE (c.join (url.empty () ? url_ : url, bearer)) << c.connect_error_;
    return c;
  }

  Client &producer (const std::string &name)
  {
    Client &c = join ();
    c.send ({ { "type", "setPeerStatus" }, { "roles", { "producer" } },
        { "meta", { { "name", name } } } });
    return c;
  }

  Client &listener ()
  {
    Client &c = join ();
    c.send ({ { "type", "setPeerStatus" }, { "roles", { "listener" } }, { "meta", nullptr } });
    c.expect ("peerStatusChanged");  // its own status
    return c;
  }

  // Starts a session from `consumer` to `producer`; returns its id.
  std::string start_session (Client &consumer, Client &producer_client)
  {
    consumer.send ({ { "type", "startSession" }, { "peerId", producer_client.id } });
    json started = consumer.expect ("sessionStarted");
    json request = producer_client.expect ("startSession");
    EXPECT_EQ (started.value ("peerId", ""), producer_client.id);
    EXPECT_EQ (request.value ("peerId", ""), consumer.id);
    EXPECT_EQ (started.value ("sessionId", "a"), request.value ("sessionId", "b"));
    return started.value ("sessionId", "");
  }

  // One offer/answer/ICE exchange through the server.
  void relay (Client &prod, Client &cons, const std::string &sid)
  {
    prod.send ({ { "type", "peer" }, { "sessionId", sid },
        { "sdp", { { "type", "offer" }, { "sdp", "v=0 offer" } } } });
    json offer = cons.expect ("peer");
    EXPECT_EQ (offer["sdp"]["sdp"], "v=0 offer");
    EXPECT_EQ (offer["sessionId"], sid);
    cons.send ({ { "type", "peer" }, { "sessionId", sid },
        { "sdp", { { "type", "answer" }, { "sdp", "v=0 answer" } } } });
    EXPECT_EQ (prod.expect ("peer")["sdp"]["type"], "answer");
    prod.send ({ { "type", "peer" }, { "sessionId", sid },
        { "ice", { { "candidate", "candidate:1 1 UDP 1 127.0.0.1 9 typ host" },
            { "sdpMLineIndex", 0 } } } });
    EXPECT_EQ (cons.expect ("peer")["ice"]["sdpMLineIndex"], 0);
    cons.send ({ { "type", "peer" }, { "sessionId", sid },
        { "ice", { { "candidate", "candidate:2 1 UDP 1 127.0.0.1 10 typ host" },
            { "sdpMLineIndex", 1 } } } });
    EXPECT_EQ (prod.expect ("peer")["ice"]["sdpMLineIndex"], 1);
  }

  struct HttpReply {
    guint status = 0;
    std::string type;  // Content-Type
    std::string body;
  };

  // A request through libsoup (which normalizes the path first).
  HttpReply http (const std::string &path, const char *method = "GET")
  {
    HttpReply reply;
    std::string uri = "http://127.0.0.1:" + std::to_string (port_) + path;
    SoupMessage *msg = soup_message_new (method, uri.c_str ());
    EXPECT_TRUE (msg) << uri;
    if (!msg)
      return reply;
    struct State {
      bool done = false;
      GBytes *body = nullptr;
    } state;
    soup_session_send_and_read_async (session_, msg, G_PRIORITY_DEFAULT, nullptr,
        [] (GObject *source, GAsyncResult *res, gpointer data) {
      auto *st = static_cast<State *> (data);
      st->body = soup_session_send_and_read_finish (SOUP_SESSION (source), res, nullptr);
      st->done = true;
    }, &state);
    if (!run_until (ctx_, [&] { return state.done; }))
      run_until (ctx_, [&] { return state.done; }, 30000);
    reply.status = soup_message_get_status (msg);
    const char *type = soup_message_headers_get_one (soup_message_get_response_headers (msg),
        "Content-Type");
    reply.type = type ? type : "";
    if (state.body) {
      gsize size = 0;
      const char *data = static_cast<const char *> (g_bytes_get_data (state.body, &size));
      reply.body.assign (data, size);
      g_bytes_unref (state.body);
    }
    g_object_unref (msg);
    return reply;
  }

  // The status line of a GET sent byte for byte, `path` untouched.
  std::string raw_get (const std::string &path)
  {
    g_autoptr (GSocketClient) sc = g_socket_client_new ();
    g_socket_client_set_timeout (sc, 5);
    g_autoptr (GError) error = nullptr;
    g_autoptr (GSocketConnection) tcp = g_socket_client_connect_to_host (sc, "127.0.0.1",
        static_cast<guint16> (port_), nullptr, &error);
    EXPECT_TRUE (tcp) << error->message;
    if (!tcp)
      return "";
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Connection: close\r\n\r\n";
    GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (tcp));
    EXPECT_TRUE (g_output_stream_write_all (out, request.data (), request.size (), nullptr,
        nullptr, nullptr));
    GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (tcp));
    std::string response;
    char buf[4096];
    gssize n;
    while ((n = g_input_stream_read (in, buf, sizeof buf, nullptr, nullptr)) > 0)
      response.append (buf, static_cast<std::size_t> (n));
    return response.substr (0, response.find ("\r\n"));
  }

  // Runs the server with `args` to its end (for options it must refuse);
  // returns its exit status, or -1 when it did not exit by itself, and what
  // it wrote to stderr in *err when asked.
  static int exit_status (std::vector<std::string> args, std::string *err = nullptr)
  {
    const char *binary = g_getenv ("RTCSTREAM_SIGNALLING");
    if (!binary)
      return -1;
    std::vector<const char *> argv = { binary };
    for (const std::string &a : args)
      argv.push_back (a.c_str ());
    argv.push_back (nullptr);
    g_autoptr (GSubprocess) proc = g_subprocess_newv (argv.data (),
        static_cast<GSubprocessFlags> (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
            (err ? G_SUBPROCESS_FLAGS_STDERR_PIPE : G_SUBPROCESS_FLAGS_STDERR_SILENCE)),
        nullptr);
    if (!proc)
      return -1;
    g_autofree char *text = nullptr;
    if (!g_subprocess_communicate_utf8 (proc, nullptr, nullptr, nullptr, &text, nullptr) ||
        !g_subprocess_get_if_exited (proc))
      return -1;
    if (err)
      *err = text ? text : "";
    return g_subprocess_get_exit_status (proc);
  }

  // The server's process id.
  int pid () const
  {
    const char *id = proc_ ? g_subprocess_get_identifier (proc_) : nullptr;
    return id ? std::atoi (id) : 0;
  }

  // What the server wrote to stderr, when log_path_ was set before start ().
  std::string server_log () const
  {
    g_autofree char *text = nullptr;
    if (log_path_.empty () || !g_file_get_contents (log_path_.c_str (), &text, nullptr, nullptr))
      return "";
    return text;
  }

  bool still_alive ()
  {
    if (exited_ || g_subprocess_get_identifier (proc_) == nullptr)
      return false;
    // Alive and answering: a fresh client gets a welcome and a list. The
    // test's own clients were just closed: a server run with a peer limit
    // refuses the probe until it has seen them go, so a refusal is retried
    // (for up to 2 s) while the process runs.
    for (int attempt = 0; attempt < 20; attempt++) {
      if (attempt > 0)
        run_until (ctx_, [] { return false; }, 100);
      if (g_subprocess_get_identifier (proc_) == nullptr)
        return false;
      Client probe (ctx_, session_);
      if (!probe.join (url_, probe_token_))
        continue;
      probe.send ({ { "type", "list" } });
      auto reply = probe.next ();
      return reply && reply->value ("type", "") == "list";
    }
    return false;
  }

  bool wait_exit (int timeout_ms)
  {
    if (exited_)
      return true;
    struct State {
      bool done = false;
    } state;
    g_subprocess_wait_async (proc_, nullptr, [] (GObject *, GAsyncResult *, gpointer data) {
      static_cast<State *> (data)->done = true;
    }, &state);
    run_until (ctx_, [&] { return state.done; }, timeout_ms);
    if (!state.done) {
      g_subprocess_force_exit (proc_);
      run_until (ctx_, [&] { return state.done; }, 30000);
    }
    exited_ = true;
    return state.done;
  }

  // SIGTERM; returns the exit status (-1 when killed by a signal or stuck).
  int terminate ()
  {
    g_subprocess_send_signal (proc_, SIGTERM);
    wait_exit (3000);
    if (!g_subprocess_get_if_exited (proc_))
      return -1;
    return g_subprocess_get_exit_status (proc_);
  }

  GMainContext *ctx_ = nullptr;
  SoupSession *session_ = nullptr;
  GSubprocess *proc_ = nullptr;
  bool exited_ = false;
  int port_ = 0;
  std::string url_;
  std::string log_path_;  // set before start () to collect stderr there
  std::string probe_token_;  // a token allowing list, on a server that needs one
  std::vector<std::unique_ptr<Client>> clients_;
};

}  // namespace
