// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Signalling loss is not media loss: the real rtcstream-signalling process is
// killed (SIGKILL) under a streaming producer and consumer and started again
// on the same port; the media goes on, the elements warn, reconnect and
// register again. And when the server never comes back, they give up with an
// error after reconnect-timeout.
#include <gio/gio.h>
#include <gst/gst.h>
#include <libsoup/soup.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "harness.h"

using rtcstream::test::kVideo;
using rtcstream::test::Pipeline;
using rtcstream::test::ServerProcess;

namespace {

constexpr int kTimeoutMs = 20000;

// When each buffer reached a sink, for the gaps between them.
struct Arrivals {
  std::mutex lock;
  std::vector<gint64> us;  // monotonic time of each buffer

  Pipeline::Inspect recorder ()
  {
    return [this] (GstBuffer *, GstCaps *) {
      std::lock_guard<std::mutex> lk (lock);
      us.push_back (g_get_monotonic_time ());
    };
  }
  // The longest time without a buffer between from and to (from the first
  // buffer after from; to itself counts as an arrival, so that a stream
  // that stopped shows its gap).
  gint64 longest_gap (gint64 from, gint64 to, gint64 *ended_at = nullptr)
  {
    std::lock_guard<std::mutex> lk (lock);
    gint64 last = from, gap = 0, at = from;
    for (gint64 t : us) {
      if (t < from || t > to)
        continue;
      if (t - last > gap) {
        gap = t - last;
        at = t;
      }
      last = t;
    }
    if (to - last > gap) {
      gap = to - last;
      at = to;
    }
    if (ended_at)
      *ended_at = at;
    return gap;
  }
  int count (gint64 from, gint64 to)
  {
    std::lock_guard<std::mutex> lk (lock);
    return (int) std::count_if (us.begin (), us.end (),
        [&] (gint64 t) { return t >= from && t < to; });
  }
};

// The stream names the server lists (its producers' meta.name), asked over
// a websocket of our own on the default main context, which Pipeline's
// waits iterate. Empty when it did not answer within timeout_ms.
std::vector<std::string>
listed_streams (const ServerProcess &server, Pipeline &pump, int timeout_ms)
{
  SoupSession *session = soup_session_new ();
  SoupMessage *msg = soup_message_new ("GET", server.ws_url ().c_str ());
  SoupWebsocketConnection *ws = nullptr;
  soup_session_websocket_connect_async (session, msg, nullptr, nullptr, G_PRIORITY_DEFAULT,
      nullptr, [] (GObject *src, GAsyncResult *res, gpointer out) {
        *static_cast<SoupWebsocketConnection **> (out) =
            soup_session_websocket_connect_finish (SOUP_SESSION (src), res, nullptr);
      }, &ws);
  std::vector<std::string> names;
  if (pump.wait_for ([&] { return ws != nullptr; }, timeout_ms)) {
    auto reply = std::make_shared<std::string> ();
    g_signal_connect_data (ws, "message", G_CALLBACK (+[] (SoupWebsocketConnection *, gint,
        GBytes *bytes, gpointer data) {
          gsize n;
          const char *text = static_cast<const char *> (g_bytes_get_data (bytes, &n));
          std::string s (text, n);
          if (s.find ("\"type\":\"list\"") != std::string::npos)
            **static_cast<std::shared_ptr<std::string> *> (data) = s;
        }), new std::shared_ptr<std::string> (reply),
        [] (gpointer data, GClosure *) { delete static_cast<std::shared_ptr<std::string> *> (data); },
        (GConnectFlags) 0);
    soup_websocket_connection_send_text (ws, "{\"type\":\"list\"}");
    if (pump.wait_for ([&] { return !reply->empty (); }, timeout_ms)) {
      // "meta":{"name":"NAME"} for each named producer.
      const std::string key = "\"name\":\"";
      for (std::size_t at = reply->find (key); at != std::string::npos;
           at = reply->find (key, at + 1)) {
        std::size_t end = reply->find ('"', at + key.size ());
        names.push_back (reply->substr (at + key.size (), end - at - key.size ()));
      }
    }
    soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, nullptr);
    pump.pump (50);
    g_object_unref (ws);
  }
  g_object_unref (msg);
  g_object_unref (session);
  return names;
}

// A TCP relay on 127.0.0.1 to another port, on the default main context
// (which Pipeline's waits iterate), whose connections can be cut at once:
// both ends see the connection end without a websocket close, as when a
// network path or a proxy goes. New connections are relayed again after.
class CuttableRelay {
public:
  explicit CuttableRelay (unsigned to_port) : to_port_ (to_port)
  {
    service_ = g_socket_service_new ();
    g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
    g_autoptr (GSocketAddress) bound = nullptr;
    if (g_socket_listener_add_address (G_SOCKET_LISTENER (service_), any, G_SOCKET_TYPE_STREAM,
            G_SOCKET_PROTOCOL_TCP, nullptr, &bound, nullptr))
      port_ = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
    g_signal_connect (service_, "incoming", G_CALLBACK (on_incoming), this);
    cancellable_ = g_cancellable_new ();
    g_socket_service_start (service_);
  }
  ~CuttableRelay ()
  {
    cut ();
    g_socket_service_stop (service_);
    g_socket_listener_close (G_SOCKET_LISTENER (service_));
    g_object_unref (service_);
    g_object_unref (cancellable_);
  }
  unsigned port () const { return port_; }
  // Ends every relayed connection now.
  void cut ()
  {
    g_cancellable_cancel (cancellable_);
    for (GIOStream *s : streams_) {
      g_io_stream_close (s, nullptr, nullptr);
      g_object_unref (s);
    }
    streams_.clear ();
    g_object_unref (cancellable_);
    cancellable_ = g_cancellable_new ();
  }
  int relayed () const { return relayed_; }

private:
  static gboolean on_incoming (GSocketService *, GSocketConnection *conn, GObject *,
      gpointer user)
  {
    auto *self = static_cast<CuttableRelay *> (user);
    g_autoptr (GSocketClient) client = g_socket_client_new ();
    GSocketConnection *up = g_socket_client_connect_to_host (client, "127.0.0.1",
        self->to_port_, nullptr, nullptr);
    if (!up)
      return FALSE;
    self->relayed_++;
    self->streams_.push_back (G_IO_STREAM (g_object_ref (conn)));
    self->streams_.push_back (G_IO_STREAM (up));
    g_io_stream_splice_async (G_IO_STREAM (conn), G_IO_STREAM (up),
        G_IO_STREAM_SPLICE_NONE, G_PRIORITY_DEFAULT, self->cancellable_, nullptr, nullptr);
    return TRUE;
  }

  unsigned to_port_;
  unsigned port_ = 0;
  int relayed_ = 0;
  GSocketService *service_ = nullptr;
  GCancellable *cancellable_ = nullptr;
  std::vector<GIOStream *> streams_;
};

using Reconnect = rtcstream::test::ServerStreamingTest;

// SIGKILL under a streaming pair, a restart on the same port 2 s later. The
// consumer's frames never stop, both elements warn and none errs, the
// producer is listed again, a new consumer joins, and a consumer that was
// still waiting for its stream finds it once it is published on the
// restarted server.
TEST_F (Reconnect, ServerKilledAndRestartedMediaGoesOn)
{
  auto prod = rtcstream::test::start_producer (
      kVideo + " ! rtcstreamsink name=sink uri=" + server->uri ("cam"), kTimeoutMs);
  auto cons = rtcstream::test::start_consumer (
      "rtcstreamsrc uri=" + server->uri ("cam") + " ! fakesink name=v");
  Arrivals arrivals;
  auto v = cons->count ("v", arrivals.recorder ());
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 30; }, kTimeoutMs))
      << cons->all_errors ();
  ASSERT_EQ (prod->element_message_count ("rtcstream-registered"), 1);
  // A consumer still waiting for its stream when the server goes: it joins
  // again once back, and gets the stream published after the restart.
  auto waiting = rtcstream::test::start_consumer (
      "rtcstreamsrc producer-timeout=-1 uri=" + server->uri ("later") + " ! fakesink name=v");
  waiting->pump (500);

  const gint64 killed = g_get_monotonic_time ();
  server->kill_hard ();
  cons->pump (2000);
  ASSERT_TRUE (server->restart ()) << "rtcstream-signalling did not start again on its port";
  const gint64 restarted = g_get_monotonic_time ();

  // The producer registers its stream again, and the new server lists it.
  EXPECT_TRUE (prod->wait_for (
      [&] { return prod->element_message_count ("rtcstream-registered") >= 2; }, kTimeoutMs))
      << prod->all_errors ();
  const gint64 registered = g_get_monotonic_time ();
  std::vector<std::string> listed = listed_streams (*server, *cons, kTimeoutMs);
  EXPECT_NE (std::find (listed.begin (), listed.end (), "cam"), listed.end ())
      << "the restarted server does not list the producer";

  // A new viewer joins through the restarted server.
  auto late = rtcstream::test::start_consumer (
      "rtcstreamsrc uri=" + server->uri ("cam") + " ! fakesink name=v");
  auto lv = late->count ("v");
  EXPECT_TRUE (late->wait_for ([&] { return lv->frames >= 20; }, kTimeoutMs))
      << late->all_errors ();
  auto later = rtcstream::test::start_producer (
      kVideo + " ! rtcstreamsink uri=" + server->uri ("later"), kTimeoutMs);
  auto wv = waiting->count ("v");
  EXPECT_TRUE (waiting->wait_for ([&] { return wv->frames >= 20; }, kTimeoutMs))
      << waiting->all_errors ();
  EXPECT_TRUE (waiting->has_warning_containing ("Lost the connection")) << "no warning";
  cons->pump (200);
  const gint64 end = g_get_monotonic_time ();
  prod->pump (100);

  // The first consumer's frames never stopped: no gap longer than 1 s from
  // before the kill until now.
  const gint64 gap = arrivals.longest_gap (killed - G_USEC_PER_SEC, end);
  EXPECT_LT (gap, G_USEC_PER_SEC) << "the consumer's video stopped for " << gap / 1000 << " ms";
  EXPECT_FALSE (cons->got_eos ());
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
  EXPECT_TRUE (late->errors ().empty ()) << late->all_errors ();
  EXPECT_TRUE (prod->has_warning_containing ("Lost the connection to the signalling server"))
      << "no warning from the producer";
  EXPECT_TRUE (cons->has_warning_containing ("Lost the connection to the signalling server"))
      << "no warning from the consumer";
  EXPECT_EQ (prod->element_message_count ("rtcstream-registered"), 2);

  // Both sides resumed their session with the restarted server: the
  // producer's end reaches the consumer as an endSession, and it ends with
  // EOS at once rather than on 20 s of silence.
  const gint64 stopping = g_get_monotonic_time ();
  prod->stop ();
  EXPECT_TRUE (cons->wait_for ([&] { return cons->got_eos (); }, 5000))
      << "the producer's end did not reach the consumer: " << cons->all_errors ();
  const gint64 ended = g_get_monotonic_time ();
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();

  const double outage_s = (registered - killed) / 1e6;
  std::printf ("server killed, restarted after %.2f s; producer registered again %.2f s after "
               "the restart; %d frames decoded by the consumer between the kill and the "
               "re-registration (%.1f s, %.1f fps); longest gap %lld ms\n",
      (restarted - killed) / 1e6, (registered - restarted) / 1e6,
      arrivals.count (killed, registered), outage_s,
      arrivals.count (killed, registered) / outage_s, (long long) (gap / 1000));
  std::printf ("the producer stopped; the consumer had EOS %lld ms later\n",
      (long long) ((ended - stopping) / 1000));

  RecordProperty ("frames_during_outage", arrivals.count (killed, registered));
  RecordProperty ("reregistered_ms_after_restart", (int) ((registered - restarted) / 1000));
  RecordProperty ("longest_gap_ms", (int) (gap / 1000));
}

// The server stays up; only the producer's connection to it goes (a network
// path, a proxy), without a goodbye. The server keeps the producer's
// sessions for --resume-grace (5 s) instead of ending them for its viewers;
// the producer reconnects, registers again and claims them back. The
// viewer never notices: its frames go on, and the producer's later end
// still reaches it.
TEST_F (Reconnect, ProducerConnectionCutWhileServerStaysUp)
{
  CuttableRelay relay (server->port ());
  ASSERT_NE (relay.port (), 0u);
  const std::string via_relay = "rtcstream://127.0.0.1:" + std::to_string (relay.port ()) + "/cam";
  auto prod = rtcstream::test::start_producer (
      kVideo + " ! rtcstreamsink name=sink uri=" + via_relay, kTimeoutMs);
  auto cons = rtcstream::test::start_consumer (
      "rtcstreamsrc uri=" + server->uri ("cam") + " ! fakesink name=v");
  Arrivals arrivals;
  auto v = cons->count ("v", arrivals.recorder ());
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 60; }, kTimeoutMs))
      << cons->all_errors ();

  const gint64 cut = g_get_monotonic_time ();
  relay.cut ();
  EXPECT_TRUE (prod->wait_for (
      [&] { return prod->element_message_count ("rtcstream-registered") >= 2; }, kTimeoutMs))
      << prod->all_errors ();
  const gint64 registered = g_get_monotonic_time ();
  EXPECT_GE (relay.relayed (), 2);
  // Past the grace: had the server ended the session, the viewer would know.
  cons->pump (6000);
  const gint64 end = g_get_monotonic_time ();
  prod->pump (100);
  gint64 gap_end = 0;
  const gint64 gap = arrivals.longest_gap (cut, end, &gap_end);
  EXPECT_LT (gap, G_USEC_PER_SEC) << "the consumer's video stopped for " << gap / 1000 << " ms";
  EXPECT_FALSE (cons->got_eos ());
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
  EXPECT_TRUE (prod->has_warning_containing ("Lost the connection to the signalling server"));
  EXPECT_TRUE (cons->warnings ().empty ());

  // The producer's end still reaches the viewer through the server.
  prod->stop ();
  EXPECT_TRUE (cons->wait_for ([&] { return cons->got_eos (); }, 5000))
      << "the producer's end did not reach the consumer: " << cons->all_errors ();
  std::printf ("producer's connection cut: registered again %lld ms later; the viewer's "
               "longest gap %lld ms, ending %lld ms after the cut\n",
      (long long) ((registered - cut) / 1000), (long long) (gap / 1000),
      (long long) ((gap_end - cut) / 1000));
}

// A server that never comes back: each element warns, tries for
// reconnect-timeout, then gives up with an error; reconnect-timeout=0 gives
// up at once, as before reconnection existed.
TEST_F (Reconnect, ServerThatStaysDownIsAnErrorAfterReconnectTimeout)
{
  auto prod = rtcstream::test::start_producer (kVideo +
      " ! rtcstreamsink name=sink reconnect-timeout=1500 uri=" + server->uri ("cam"), kTimeoutMs);
  auto cons = rtcstream::test::start_consumer ("rtcstreamsrc reconnect-timeout=1500 uri=" +
      server->uri ("cam") + " ! fakesink name=v");
  auto at_once = rtcstream::test::start_consumer ("rtcstreamsrc reconnect-timeout=0 uri=" +
      server->uri ("cam") + " ! fakesink name=v");
  auto v = cons->count ("v");
  auto v0 = at_once->count ("v");
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 20; }, kTimeoutMs));
  ASSERT_TRUE (at_once->wait_for ([&] { return v0->frames >= 20; }, kTimeoutMs));

  const gint64 killed = g_get_monotonic_time ();
  server->kill_hard ();
  EXPECT_TRUE (at_once->wait_for ([&] { return !at_once->errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (at_once->has_error_containing ("reconnect-timeout is 0"))
      << at_once->all_errors ();
  EXPECT_TRUE (at_once->warnings ().empty ());

  for (Pipeline *p : {prod.get (), cons.get ()}) {
    EXPECT_TRUE (p->wait_for ([&] { return !p->errors ().empty (); }, kTimeoutMs));
    const gint64 failed = g_get_monotonic_time ();
    EXPECT_GE (failed - killed, 1500 * 1000) << "gave up before reconnect-timeout";
    EXPECT_TRUE (p->has_warning_containing ("Lost the connection to the signalling server"))
        << "no warning first";
    EXPECT_TRUE (p->has_error_containing ("could not get back in touch within "
                                          "reconnect-timeout (1500 ms"))
        << p->all_errors ();
  }
}

}  // namespace
