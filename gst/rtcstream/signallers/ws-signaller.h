// SPDX-License-Identifier: LGPL-2.1-or-later
//
// RtcstreamWsSignaller: our websocket protocol (docs/protocol.md), also
// spoken by gst-plugins-rs' gst-webrtc-signalling-server. All network work
// runs on a thread and GMainContext of its own. A lost connection is got
// back, within reconnect-timeout, while the sessions go on (docs/protocol.md,
// Reconnecting).
#pragma once

#include "rtcstream/signallers/base-signaller.h"

G_BEGIN_DECLS

#define RTCSTREAM_TYPE_WS_SIGNALLER (rtcstream_ws_signaller_get_type ())
G_DECLARE_FINAL_TYPE (RtcstreamWsSignaller, rtcstream_ws_signaller, RTCSTREAM,
    WS_SIGNALLER, RtcstreamBaseSignaller)

/* uri: ws://HOST:PORT/ws or wss://... */
RtcstreamWsSignaller *rtcstream_ws_signaller_new (const gchar *uri);

G_END_DECLS
