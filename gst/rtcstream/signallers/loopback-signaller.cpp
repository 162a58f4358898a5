// SPDX-License-Identifier: LGPL-2.1-or-later
#include "loopback-signaller.h"

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC (rtcstream_loopback_signaller_debug);
#define GST_CAT_DEFAULT rtcstream_loopback_signaller_debug

using rtcstream::Ref;

namespace {

constexpr const char *kScheme = "loopback://";

// Ids of runs and sessions, unique in the process: a message meant for one
// run of a signaller is never taken by its next run.
guint64
next_id ()
{
  static std::atomic<guint64> last{0};
  return ++last;
}

// One run of a signaller (from start to stop), as its peers know it: a weak
// ref, so that neither side keeps the other alive, and the run's id.
class RunRef {
public:
  RunRef (RtcstreamLoopbackSignaller *self, guint64 run, const char *kind)
      : run (run), name (std::string (kind) + "-" + std::to_string (run))
  {
    g_weak_ref_init (&ref_, self);
  }
  ~RunRef () { g_weak_ref_clear (&ref_); }
  RunRef (const RunRef &) = delete;
  RunRef &operator= (const RunRef &) = delete;

  // Any thread: a strong ref, or null once the signaller is being finalized.
  Ref<RtcstreamLoopbackSignaller> get () const
  {
    return Ref<RtcstreamLoopbackSignaller>::adopt (
        static_cast<RtcstreamLoopbackSignaller *> (g_weak_ref_get (&ref_)));
  }

  const guint64 run;
  const std::string name;  // the peer id the other side sees

private:
  mutable GWeakRef ref_;
};
using Peer = std::shared_ptr<const RunRef>;

// The process-wide registry: the running producer and consumers of each
// link. Never destroyed (workers may still use it while the process exits).
struct Link {
  Peer producer;
  std::vector<Peer> consumers;
};
struct Registry {
  std::mutex lock;
  std::map<std::string, Link> links;
};

Registry &
registry ()
{
  static Registry *r = new Registry ();
  return *r;
}

// A consumer's way through one run.
enum class Phase {
  Waiting,    // for its link's producer
  Joined,     // asked the producer for a session, waiting for the offer
  InSession,  // session-started emitted
  Ended,      // its session ended: nothing more this run
};

// Worker-thread-only, for one run; self is null outside a run.
struct State {
  Peer self;
  RtcstreamRole role = RTCSTREAM_ROLE_PRODUCER;
  std::string link;
  // Producer: holds the link, and its sessions (session id -> consumer).
  bool holds_link = false;
  std::map<std::string, Peer> sessions;
  // Consumer.
  Phase phase = Phase::Waiting;
  Peer producer;        // the one joined (Joined, InSession)
  std::string session;  // InSession, Ended
  guint wait_timer = 0;
};

}  // namespace

struct _RtcstreamLoopbackSignaller {
  RtcstreamBaseSignaller parent;
  State *state;  // owned by the base (rtcstream_base_signaller_set_state)
};

G_DEFINE_TYPE_WITH_CODE (RtcstreamLoopbackSignaller, rtcstream_loopback_signaller,
    RTCSTREAM_TYPE_BASE_SIGNALLER,
    GST_DEBUG_CATEGORY_INIT (rtcstream_loopback_signaller_debug, "rtcstream-loopback", 0,
        "rtcstream in-process signaller for tests"))

namespace {

using Self = RtcstreamLoopbackSignaller;

RtcstreamBaseSignaller *
base (Self *self)
{
  return RTCSTREAM_BASE_SIGNALLER (self);
}

RtcstreamSignaller *
iface (Self *self)
{
  return RTCSTREAM_SIGNALLER (self);
}

using SdpPtr = std::shared_ptr<GstWebRTCSessionDescription>;

SdpPtr
copy_sdp (const GstWebRTCSessionDescription *sdp)
{
  return SdpPtr (gst_webrtc_session_description_copy (sdp), gst_webrtc_session_description_free);
}

// Any thread: runs fn (peer) on the peer's worker, if by then that run of
// it is still going. Dropped when the peer is gone.
template <typename Fn>
void
deliver (const Peer &to, Fn fn)
{
  if (!to)
    return;
  Ref<Self> target = to->get ();
  if (!target)
    return;
  guint64 run = to->run;
  rtcstream::post (target.get (), [run, fn] (Self *peer) {
    if (peer->state->self && peer->state->self->run == run)
      fn (peer);
  });
}

// --- consumer side (its worker) ---------------------------------------------

void consumer_join (Self *self, const Peer &producer);

// Waits for the link's producer: joins the one running now, if any;
// otherwise the next one to start tells us (consumer_on_producer_started).
void
consumer_wait (Self *self)
{
  State *st = self->state;
  st->phase = Phase::Waiting;
  st->producer.reset ();
  Peer producer;
  {
    Registry &r = registry ();
    std::lock_guard<std::mutex> lk (r.lock);
    auto it = r.links.find (st->link);
    if (it != r.links.end ())
      producer = it->second.producer;
  }
  if (producer) {
    consumer_join (self, producer);
    return;
  }
  if (st->wait_timer)
    return;
  const gint timeout = rtcstream::signaller_settings (base (self)).producer_timeout_ms;
  std::string link = st->link;
  if (timeout == 0) {
    rtcstream::emit_error (base (self), RTCSTREAM_SIGNALLER_ERROR_NOT_FOUND,
        "No producer on loopback link '" + link + "' in this process: start the producer "
        "first (producer-timeout is 0)");
    return;
  }
  GST_INFO_OBJECT (self, "no producer on link '%s' yet, waiting", link.c_str ());
  if (timeout < 0)
    return;
  st->wait_timer = rtcstream::post_delayed (self, timeout, [link, timeout] (Self *self) {
    State *st = self->state;
    st->wait_timer = 0;
    if (!st->self || st->phase != Phase::Waiting)
      return;
    rtcstream::emit_error (base (self), RTCSTREAM_SIGNALLER_ERROR_NOT_FOUND,
        "No producer on loopback link '" + link + "' started within " +
        std::to_string (timeout) + " ms: start an rtcstreamsink with uri=loopback://" + link +
        " in this process, or raise producer-timeout");
  });
}

void producer_on_join (Self *self, const Peer &consumer);

void
consumer_join (Self *self, const Peer &producer)
{
  State *st = self->state;
  rtcstream::cancel_timer (base (self), st->wait_timer);
  st->phase = Phase::Joined;
  st->producer = producer;
  GST_INFO_OBJECT (self, "joining %s on link '%s'", producer->name.c_str (), st->link.c_str ());
  Peer me = st->self;
  deliver (producer, [me] (Self *p) { producer_on_join (p, me); });
}

void
consumer_on_producer_started (Self *self, const Peer &producer)
{
  if (self->state->phase == Phase::Waiting)
    consumer_join (self, producer);
}

// The producer's offer (or a later description) for session id.
void
consumer_on_description (Self *self, const std::string &id, guint64 producer_run,
    const SdpPtr &sdp)
{
  State *st = self->state;
  if (st->phase == Phase::Joined && st->producer->run == producer_run) {
    st->phase = Phase::InSession;
    st->session = id;
    GST_INFO_OBJECT (self, "session %s with %s", id.c_str (), st->producer->name.c_str ());
    rtcstream_signaller_emit_session_started (iface (self), id.c_str (),
        st->producer->name.c_str ());
  } else if (st->phase != Phase::InSession || st->session != id) {
    GST_DEBUG_OBJECT (self, "dropping a description for session %s", id.c_str ());
    return;
  }
  rtcstream_signaller_emit_session_description (iface (self), id.c_str (), sdp.get ());
}

void
consumer_on_ice (Self *self, const std::string &id, guint mline, const std::string &cand)
{
  State *st = self->state;
  if (st->phase == Phase::InSession && st->session == id)
    rtcstream_signaller_emit_handle_ice (iface (self), id.c_str (), mline, cand.c_str ());
}

void
consumer_end (Self *self)
{
  State *st = self->state;
  st->phase = Phase::Ended;
  rtcstream_signaller_emit_session_ended (iface (self), st->session.c_str ());
}

// The producer ended session id (end_session on its side).
void
consumer_on_ended (Self *self, const std::string &id, guint64 producer_run)
{
  State *st = self->state;
  if (st->phase == Phase::InSession && st->session == id) {
    GST_INFO_OBJECT (self, "the producer ended session %s", id.c_str ());
    consumer_end (self);
  } else if (st->phase == Phase::Joined && st->producer->run == producer_run) {
    st->phase = Phase::Ended;
    rtcstream::emit_error (base (self), RTCSTREAM_SIGNALLER_ERROR_REFUSED,
        "The producer on loopback link '" + st->link + "' ended the session before "
        "offering: its bus says why");
  }
}

// The producer of run producer_run stopped.
void
consumer_on_producer_stopped (Self *self, guint64 producer_run)
{
  State *st = self->state;
  if (!st->producer || st->producer->run != producer_run)
    return;
  if (st->phase == Phase::InSession) {
    GST_INFO_OBJECT (self, "producer %s stopped: session %s ends", st->producer->name.c_str (),
        st->session.c_str ());
    consumer_end (self);
  } else if (st->phase == Phase::Joined) {
    consumer_wait (self);  // it left before offering: wait for the next one
  }
}

// --- producer side (its worker) ---------------------------------------------

void
producer_on_join (Self *self, const Peer &consumer)
{
  std::string id = "loopback-" + std::to_string (next_id ());
  self->state->sessions[id] = consumer;
  GST_INFO_OBJECT (self, "%s asks for a session: %s", consumer->name.c_str (), id.c_str ());
  rtcstream_signaller_emit_session_requested (iface (self), id.c_str (),
      consumer->name.c_str (), nullptr);
}

// The consumer of session id, if consumer_run is still it.
bool
producer_has (Self *self, const std::string &id, guint64 consumer_run)
{
  auto it = self->state->sessions.find (id);
  return it != self->state->sessions.end () && it->second->run == consumer_run;
}

void
producer_on_description (Self *self, const std::string &id, guint64 consumer_run,
    const SdpPtr &sdp)
{
  if (producer_has (self, id, consumer_run))
    rtcstream_signaller_emit_session_description (iface (self), id.c_str (), sdp.get ());
}

void
producer_on_ice (Self *self, const std::string &id, guint64 consumer_run, guint mline,
    const std::string &cand)
{
  if (producer_has (self, id, consumer_run))
    rtcstream_signaller_emit_handle_ice (iface (self), id.c_str (), mline, cand.c_str ());
}

// The consumer of run consumer_run ended its session, or stopped.
void
producer_on_consumer_gone (Self *self, guint64 consumer_run)
{
  std::vector<std::string> ended;
  for (auto it = self->state->sessions.begin (); it != self->state->sessions.end ();) {
    if (it->second->run == consumer_run) {
      ended.push_back (it->first);
      it = self->state->sessions.erase (it);
    } else {
      ++it;
    }
  }
  for (const std::string &id : ended) {
    GST_INFO_OBJECT (self, "the consumer ended session %s", id.c_str ());
    rtcstream_signaller_emit_session_ended (iface (self), id.c_str ());
  }
}

// --- the base's vfuncs (worker thread) -----------------------------------------

void
loopback_start (RtcstreamBaseSignaller *base_self)
{
  auto *self = RTCSTREAM_LOOPBACK_SIGNALLER (base_self);
  State *st = self->state;
  st->role = rtcstream_base_signaller_get_role (base_self);
  st->link = rtcstream::signaller_stream_name (base_self);
  if (st->link.empty ())
    st->link = "default";
  const bool producer = st->role == RTCSTREAM_ROLE_PRODUCER;
  st->self = std::make_shared<RunRef> (self, next_id (), producer ? "producer" : "consumer");
  st->phase = Phase::Waiting;
  Registry &r = registry ();
  if (!producer) {
    {
      std::lock_guard<std::mutex> lk (r.lock);
      r.links[st->link].consumers.push_back (st->self);
    }
    consumer_wait (self);
    return;
  }
  std::vector<Peer> consumers;
  Ref<Self> holder;  // released after the lock: it may be the last ref
  {
    std::lock_guard<std::mutex> lk (r.lock);
    Link &link = r.links[st->link];
    if (link.producer)
      holder = link.producer->get ();
    if (!holder) {
      link.producer = st->self;
      consumers = link.consumers;
      st->holds_link = true;
    }
  }
  if (!st->holds_link) {
    rtcstream::emit_error (base_self, RTCSTREAM_SIGNALLER_ERROR_NAME_TAKEN,
        "Another producer already uses loopback link '" + st->link +
        "' in this process: give each rtcstreamsink its own loopback://LINK");
    return;
  }
  GST_INFO_OBJECT (self, "producing on link '%s' (%zu consumers waiting)", st->link.c_str (),
      consumers.size ());
  rtcstream_signaller_emit_registered (iface (self));
  Peer me = st->self;
  for (const Peer &c : consumers)
    deliver (c, [me] (Self *c) { consumer_on_producer_started (c, me); });
}

void
loopback_stop (RtcstreamBaseSignaller *base_self)
{
  auto *self = RTCSTREAM_LOOPBACK_SIGNALLER (base_self);
  State *st = self->state;
  rtcstream::cancel_timer (base_self, st->wait_timer);
  if (!st->self)
    return;
  const guint64 run = st->self->run;
  std::vector<Peer> consumers;
  {
    Registry &r = registry ();
    std::lock_guard<std::mutex> lk (r.lock);
    auto it = r.links.find (st->link);
    if (it != r.links.end ()) {
      Link &link = it->second;
      if (st->holds_link && link.producer && link.producer->run == run) {
        link.producer.reset ();
        consumers = link.consumers;
      }
      auto &cs = link.consumers;
      for (auto c = cs.begin (); c != cs.end (); ++c) {
        if ((*c)->run == run) {
          cs.erase (c);
          break;
        }
      }
      if (!link.producer && cs.empty ())
        r.links.erase (it);
    }
  }
  // Tell the other side; nothing is emitted here after stop.
  for (const Peer &c : consumers)
    deliver (c, [run] (Self *c) { consumer_on_producer_stopped (c, run); });
  if (st->role == RTCSTREAM_ROLE_CONSUMER &&
      (st->phase == Phase::Joined || st->phase == Phase::InSession))
    deliver (st->producer, [run] (Self *p) { producer_on_consumer_gone (p, run); });
  GST_INFO_OBJECT (self, "left link '%s'", st->link.c_str ());
  st->self.reset ();
  st->holds_link = false;
  st->sessions.clear ();
  st->phase = Phase::Waiting;
  st->producer.reset ();
  st->session.clear ();
}

gboolean
loopback_accepts_session (RtcstreamBaseSignaller *base_self, const gchar *session_id)
{
  State *st = RTCSTREAM_LOOPBACK_SIGNALLER (base_self)->state;
  if (st->role == RTCSTREAM_ROLE_PRODUCER)
    return st->sessions.count (session_id) > 0;
  return st->phase == Phase::InSession && st->session == session_id;
}

void
loopback_send_sdp (RtcstreamBaseSignaller *base_self, const gchar *session_id,
    const GstWebRTCSessionDescription *sdp)
{
  State *st = RTCSTREAM_LOOPBACK_SIGNALLER (base_self)->state;
  std::string id = session_id;
  SdpPtr copy = copy_sdp (sdp);
  guint64 run = st->self->run;
  if (st->role == RTCSTREAM_ROLE_PRODUCER)
    deliver (st->sessions.at (id), [id, run, copy] (Self *c) {
      consumer_on_description (c, id, run, copy);
    });
  else
    deliver (st->producer, [id, run, copy] (Self *p) {
      producer_on_description (p, id, run, copy);
    });
}

void
loopback_add_ice (RtcstreamBaseSignaller *base_self, const gchar *session_id, guint mline,
    const gchar *candidate)
{
  State *st = RTCSTREAM_LOOPBACK_SIGNALLER (base_self)->state;
  if (!*candidate)
    return;  // the end of gathering: the peer trickles, it needs no mark
  std::string id = session_id, cand = candidate;
  guint64 run = st->self->run;
  if (st->role == RTCSTREAM_ROLE_PRODUCER)
    deliver (st->sessions.at (id), [id, mline, cand] (Self *c) {
      consumer_on_ice (c, id, mline, cand);
    });
  else
    deliver (st->producer, [id, run, mline, cand] (Self *p) {
      producer_on_ice (p, id, run, mline, cand);
    });
}

void
loopback_end_session (RtcstreamBaseSignaller *base_self, const gchar *session_id)
{
  auto *self = RTCSTREAM_LOOPBACK_SIGNALLER (base_self);
  State *st = self->state;
  std::string id = session_id;
  guint64 run = st->self->run;
  GST_INFO_OBJECT (self, "ending session %s", session_id);
  if (st->role == RTCSTREAM_ROLE_PRODUCER) {
    auto it = st->sessions.find (id);
    Peer consumer = it->second;
    st->sessions.erase (it);
    deliver (consumer, [id, run] (Self *c) { consumer_on_ended (c, id, run); });
  } else {
    st->phase = Phase::Ended;
    deliver (st->producer, [run] (Self *p) { producer_on_consumer_gone (p, run); });
  }
}

}  // namespace

static void
rtcstream_loopback_signaller_init (RtcstreamLoopbackSignaller *self)
{
  self->state = rtcstream::make_signaller_state<State> (base (self));
}

static void
rtcstream_loopback_signaller_class_init (RtcstreamLoopbackSignallerClass *klass)
{
  RtcstreamBaseSignallerClass *base_class = RTCSTREAM_BASE_SIGNALLER_CLASS (klass);
  base_class->worker_name = "rtcstream-loopback";
  base_class->debug_category = rtcstream_loopback_signaller_debug;
  base_class->start = loopback_start;
  base_class->stop = loopback_stop;
  base_class->accepts_session = loopback_accepts_session;
  base_class->send_sdp = loopback_send_sdp;
  base_class->add_ice = loopback_add_ice;
  base_class->end_session = loopback_end_session;
}

RtcstreamLoopbackSignaller *
rtcstream_loopback_signaller_new (RtcstreamRole role, const gchar *link)
{
  return RTCSTREAM_LOOPBACK_SIGNALLER (g_object_new (RTCSTREAM_TYPE_LOOPBACK_SIGNALLER,
      "role", role, "stream-name", link, nullptr));
}

gboolean
rtcstream_loopback_uri_is_loopback (const gchar *uri)
{
  return uri && g_ascii_strncasecmp (uri, kScheme, strlen (kScheme)) == 0;
}

gboolean
rtcstream_loopback_uri_parse (const gchar *uri, gchar **link, GError **error)
{
  g_return_val_if_fail (rtcstream_loopback_uri_is_loopback (uri), FALSE);
  std::string rest = uri + strlen (kScheme);
  while (!rest.empty () && rest.back () == '/')
    rest.pop_back ();
  g_autofree gchar *name = g_uri_unescape_string (rest.c_str (), nullptr);
  const char *why = nullptr;
  if (rest.empty ())
    why = "it names no link";
  else if (!name)
    why = "its link name has an invalid %-escape";
  else if (strchr (name, '/'))
    why = "its link name must not contain '/'";
  if (why) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "Invalid URI '%s': %s. Expected loopback://LINK, the same LINK on an rtcstreamsink "
        "and its rtcstreamsrc in this process", uri, why);
    return FALSE;
  }
  if (link)
    *link = g_steal_pointer (&name);
  return TRUE;
}
