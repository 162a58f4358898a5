// SPDX-License-Identifier: LGPL-2.1-or-later
//
// RtcstreamBaseSignaller: the abstract base of the signallers rtcstream ships
// (websocket, WHIP/WHEP, Janus). It implements RtcstreamSignaller and owns
// what they share: the role and stream-name properties, the settings every
// signaller takes from the element (tls-ca-file, auth-token,
// producer-timeout), the STUN/TURN servers its server hands out
// (ice-servers, the interface's get_ice_servers), one Worker (a thread
// with a GMainContext of its own) per instance, error emission, the hop of
// the interface's calls onto the worker, and the order of teardown. A
// subclass fills in the class vfuncs below and keeps only its protocol.
//
// Threads: the interface's methods may be called from any thread. start()
// and stop() wait for the subclass's start/stop on the worker; send_sdp,
// add_ice and end_session copy their arguments and post them to the worker.
// Every class vfunc runs on the worker.
#pragma once

#include "rtcstream/signaller.h"

G_BEGIN_DECLS

#define RTCSTREAM_TYPE_BASE_SIGNALLER (rtcstream_base_signaller_get_type ())
G_DECLARE_DERIVABLE_TYPE (RtcstreamBaseSignaller, rtcstream_base_signaller, RTCSTREAM,
    BASE_SIGNALLER, GObject)

struct _RtcstreamBaseSignallerClass {
  GObjectClass parent_class;

  /* Set in class_init: the worker thread's name (e.g. "rtcstream-ws"), and
   * the debug category the base logs this signaller's messages in. */
  const gchar *worker_name;
  GstDebugCategory *debug_category;

  /* A run begins: connect and register under the role and stream name. */
  void (*start) (RtcstreamBaseSignaller *self);
  /* The run ends: free its resources. Also called from finalize, and when
   * the signaller never started. No signal may be emitted after it. */
  void (*stop) (RtcstreamBaseSignaller *self);
  /* Whether a call for session_id, posted by the element before it ran,
   * still concerns a session of this run. NULL: every call while running. */
  gboolean (*accepts_session) (RtcstreamBaseSignaller *self, const gchar *session_id);
  /* The interface's calls, on the worker, once accepted. */
  void (*send_sdp) (RtcstreamBaseSignaller *self, const gchar *session_id,
      const GstWebRTCSessionDescription *sdp);
  void (*add_ice) (RtcstreamBaseSignaller *self, const gchar *session_id, guint mline,
      const gchar *candidate);
  void (*end_session) (RtcstreamBaseSignaller *self, const gchar *session_id);
  /* Any thread, optional (NULL: none): what the remote end can do. */
  RtcstreamSignallerFeatures (*get_features) (RtcstreamBaseSignaller *self);

  gpointer padding[7];
};

/* Any thread: the role, under the settings lock. */
RtcstreamRole rtcstream_base_signaller_get_role (RtcstreamBaseSignaller *self);

/* Worker thread: emits "error" with message, and logs it, unless the run
 * has ended (nothing is emitted after stop). */
void rtcstream_base_signaller_emit_error (RtcstreamBaseSignaller *self,
    RtcstreamSignallerError code, const gchar *message);

/* Worker thread: emits "warning" with message, and logs it, unless the run
 * has ended. */
void rtcstream_base_signaller_emit_warning (RtcstreamBaseSignaller *self,
    RtcstreamSignallerError code, const gchar *message);

/* Instance init: hands the subclass's state to the base, which frees it in
 * finalize after stop has run on the worker and the worker has ended, so no
 * callback can touch it any more. */
void rtcstream_base_signaller_set_state (RtcstreamBaseSignaller *self, gpointer state,
    GDestroyNotify free_state);

G_END_DECLS

#ifdef __cplusplus

#include <string>
#include <utility>
#include <vector>

#include "rtcstream/ref.h"
#include "rtcstream/signallers/ice-server.h"
#include "rtcstream/worker.h"

namespace rtcstream {

// The worker of self (made at construction, ended in finalize).
Worker &signaller_worker (RtcstreamBaseSignaller *self);

// Any thread: a copy of the stream name, taken under the settings lock.
std::string signaller_stream_name (RtcstreamBaseSignaller *self);

// The settings every signaller takes from the element, as properties of the
// base: a subclass uses those that mean something for its transport.
struct SignallerSettings {
  std::string tls_ca_file;       // PEM file of CAs to trust for TLS; empty: the system's
  std::string auth_token;        // bearer token; empty: none
  gint producer_timeout_ms = 30000;  // consumer: wait for the stream (-1 forever)
  // After losing the connection to its server: how long to try to get it
  // back (ms) before giving up with an error; -1 forever, 0 not at all.
  gint reconnect_timeout_ms = 30000;
};
// Any thread: a copy, taken under the settings lock.
SignallerSettings signaller_settings (RtcstreamBaseSignaller *self);

// Any thread: the STUN/TURN servers the signalling side (`who`, for the
// log) handed out, replacing earlier ones; each logged at INFO as "<who>
// announces ICE server URL", a URL of an unknown kind left out with a
// warning. Notifies "ice-servers" when they changed.
void signaller_set_ice_servers (RtcstreamBaseSignaller *self, const char *who,
    const std::vector<IceServer> &servers);
// Any thread: a copy of those servers.
std::vector<IceServer> signaller_ice_servers (RtcstreamBaseSignaller *self);

// For get_property: sets a G_TYPE_STRV value (e.g. "ice-servers") to a copy of list.
void value_set_strv (GValue *value, const std::vector<std::string> &list);


// The delay before reconnection attempt number `attempts` (0 for the first)
// after a lost connection: 250 ms, doubling up to 1 s, each with up to 20%
// of jitter (the clients of a restarted server do not all come back at once).
guint reconnect_delay_ms (guint attempts);

// Worker thread: removes the worker's timeout source_id (if any), sets it to 0.
void cancel_timer (RtcstreamBaseSignaller *self, guint &source_id);

// Worker thread: rtcstream_base_signaller_emit_error with a C++ string.
inline void
emit_error (RtcstreamBaseSignaller *self, RtcstreamSignallerError code,
    const std::string &message)
{
  rtcstream_base_signaller_emit_error (self, code, message.c_str ());
}

inline void
emit_warning (RtcstreamBaseSignaller *self, RtcstreamSignallerError code,
    const std::string &message)
{
  rtcstream_base_signaller_emit_warning (self, code, message.c_str ());
}

// A new S (default-constructed), owned by self from now on: see
// rtcstream_base_signaller_set_state. For a subclass's instance init.
template <typename S>
S *
make_signaller_state (RtcstreamBaseSignaller *self)
{
  S *state = new S ();
  rtcstream_base_signaller_set_state (self, state,
      [] (gpointer p) { delete static_cast<S *> (p); });
  return state;
}

// Any thread: runs fn (self) on the worker, later, with a ref held on self.
template <typename T, typename Fn>
void
post (T *self, Fn fn)
{
  Ref<T> ref = Ref<T>::take_ref (self);
  signaller_worker (RTCSTREAM_BASE_SIGNALLER (self)).post ([ref, fn] { fn (ref.get ()); });
}

// Any thread: runs fn (self) on the worker after delay_ms, with a ref held on
// self until then. Returns the source id, for cancel_timer.
template <typename T, typename Fn>
guint
post_delayed (T *self, guint delay_ms, Fn fn)
{
  Ref<T> ref = Ref<T>::take_ref (self);
  return signaller_worker (RTCSTREAM_BASE_SIGNALLER (self)).post_delayed (delay_ms,
      [ref, fn] { fn (ref.get ()); });
}

}  // namespace rtcstream

#endif
