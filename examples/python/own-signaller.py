#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""rtcstream from Python (PyGObject): a signaller of the application's own.

A camera pipeline (rtcstreamsink) and a viewer pipeline (rtcstreamsrc) in
this process, paired by a signaller written here in Python: it implements
the Rtcstream.Signaller interface (Rtcstream-1.0 typelib) and carries the
offer, the answer and the ICE candidates between the two elements through
an in-process "mailbox". Replace the mailbox with your own transport (MQTT,
a message bus, an HTTP API) and the elements work over it unchanged.

Also shown: the sink's `stats`, and data both ways over the data channel
(`send-text` and `text-message`).

    GI_TYPELIB_PATH=build/gst LD_LIBRARY_PATH=build/gst GST_PLUGIN_PATH=build/plugins /usr/bin/python3 examples/python/own-signaller.py --frames 90

(docs/elements.md, "Your own signaller, and Python"; /usr/bin/python3 is
Debian's, which has python3-gi.)

It prints what it does, and exits 0 once the viewer decoded --frames frames
and a message went each way (1 otherwise, after --timeout seconds).
"""
import argparse
import itertools
import queue
import sys
import threading

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstWebRTC', '1.0')
gi.require_version('Rtcstream', '1.0')
from gi.repository import GLib, GObject, Gst, GstWebRTC, Rtcstream  # noqa: E402


class Worker:
    """A thread that runs what is posted to it, in order: a signaller's
    signals are emitted from its own thread, never from the caller's (the
    interface's methods may be called from webrtcbin's threads and must not
    block)."""

    def __init__(self, name):
        self._jobs = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def post(self, job):
        self._jobs.put(job)

    def _run(self):
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job()

    def stop(self):
        self._jobs.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join()


class Mailbox:
    """The 'server': pairs the producer of a stream name with its viewers
    and passes messages between them. One session id per viewer."""

    def __init__(self):
        self._lock = threading.Lock()
        self._producers = {}      # stream name -> signaller
        self._sessions = {}       # session id -> (producer, consumer)
        self._ids = itertools.count(1)

    def join(self, sig):
        with self._lock:
            if sig.props.role == Rtcstream.Role.PRODUCER:
                self._producers[sig.props.stream_name] = sig
                sig.post(lambda: sig.emit('registered'))
                return
            producer = self._producers.get(sig.props.stream_name)
            if producer is None:
                sig.post(lambda: sig.emit('error', GLib.Error(
                    f'no stream named {sig.props.stream_name!r}')))
                return
            session = f'session-{next(self._ids)}'
            self._sessions[session] = (producer, sig)
        # The viewer learns of its session first, then the producer offers.
        sig.post(lambda: sig.emit('session-started', session, producer.peer_id))
        producer.post(lambda: producer.emit('session-requested', session, sig.peer_id, None))

    def leave(self, sig):
        with self._lock:
            if self._producers.get(sig.props.stream_name) is sig:
                del self._producers[sig.props.stream_name]
            gone = [s for s, pair in self._sessions.items() if sig in pair]
            for s in gone:
                del self._sessions[s]

    def other_side(self, sig, session):
        with self._lock:
            pair = self._sessions.get(session)
        if pair is None:
            return None
        return pair[1] if pair[0] is sig else pair[0]

    def end(self, sig, session):
        with self._lock:
            pair = self._sessions.pop(session, None)
        if pair is not None:
            other = pair[1] if pair[0] is sig else pair[0]
            other.post(lambda: other.emit('session-ended', session))


class MailboxSignaller(GObject.Object, Rtcstream.Signaller):
    """Rtcstream.Signaller in Python. The element sets `role`; the
    application sets `stream-name`."""

    __gtype_name__ = 'MailboxSignaller'

    role = GObject.Property(type=Rtcstream.Role, default=Rtcstream.Role.PRODUCER)
    stream_name = GObject.Property(type=str, default='')

    _count = itertools.count(1)

    def __init__(self, mailbox, stream_name):
        super().__init__(stream_name=stream_name)
        self.mailbox = mailbox
        self.peer_id = f'py-peer-{next(self._count)}'
        self._worker = None

    def post(self, job):
        if self._worker:
            self._worker.post(job)

    # The interface's methods (any thread; never block).
    def do_start(self):
        self._worker = Worker(self.peer_id)
        self.mailbox.join(self)

    def do_stop(self):
        self.mailbox.leave(self)
        worker, self._worker = self._worker, None
        if worker:
            worker.stop()

    def do_send_sdp(self, session, sdp):
        other = self.mailbox.other_side(self, session)
        if other is not None:
            copy = sdp.copy()  # the element keeps its own
            other.post(lambda: other.emit('session-description', session, copy))

    def do_add_ice(self, session, mline, candidate):
        other = self.mailbox.other_side(self, session)
        if other is not None and candidate:
            other.post(lambda: other.emit('handle-ice', session, mline, candidate))

    def do_end_session(self, session):
        self.mailbox.end(self, session)

    def do_get_features(self):
        return Rtcstream.SignallerFeatures(0)  # no restriction, no ICE servers to hand out

    def do_get_ice_servers(self):
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=90, help='frames the viewer must decode')
    parser.add_argument('--timeout', type=float, default=30, help='seconds before giving up')
    args = parser.parse_args()

    Gst.init(None)
    loop = GLib.MainLoop()
    mailbox = Mailbox()
    done = {'frames': 0, 'to_viewer': None, 'to_camera': None, 'ok': False}

    camera = Gst.parse_launch(
        'videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 ! '
        'rtcstreamsink name=sink data-channel=true')
    viewer = Gst.parse_launch('rtcstreamsrc name=src ! fakesink name=out signal-handoffs=true')
    sink = camera.get_by_name('sink')
    src = viewer.get_by_name('src')
    sink.props.signaller = MailboxSignaller(mailbox, 'cam')
    src.props.signaller = MailboxSignaller(mailbox, 'cam')

    def check():  # main loop
        if (done['frames'] >= args.frames and done['to_viewer'] and done['to_camera']
                and not done['ok']):
            done['ok'] = True
            stats = sink.props.stats
            print(f'sink stats: consumers={stats.get_value("consumers")} '
                  f'encoders={stats.get_value("encoders")}')
            print(f'decoded {done["frames"]} frames; messages: camera -> viewer '
                  f'{done["to_viewer"]!r}, viewer -> camera {done["to_camera"]!r}')
            loop.quit()
        return False

    def on_frame(*_):  # streaming thread
        done['frames'] += 1
        if done['frames'] == args.frames:
            GLib.idle_add(check)

    viewer.get_by_name('out').connect('handoff', on_frame)

    # Data: once the viewer's channel is open, each side says hello.
    def on_viewer_channel(_src, producer_id):
        print(f'viewer: data channel to {producer_id} open')
        src.emit('send-text', 'hello from the viewer')

    def on_camera_channel(_sink, peer_id):
        print(f'camera: data channel to {peer_id} open')
        sink.emit('send-text', peer_id, 'hello from the camera')

    def on_viewer_text(_src, _peer, text):
        done['to_viewer'] = text
        GLib.idle_add(check)

    def on_camera_text(_sink, _peer, text):
        done['to_camera'] = text
        GLib.idle_add(check)

    src.connect('data-channel-opened', on_viewer_channel)
    sink.connect('data-channel-opened', on_camera_channel)
    src.connect('text-message', on_viewer_text)
    sink.connect('text-message', on_camera_text)

    def on_message(_bus, msg, who):
        if msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            print(f'{who}: error: {err.message} ({debug})', file=sys.stderr)
            loop.quit()
        elif msg.type == Gst.MessageType.ELEMENT and msg.get_structure().has_name('rtcstream-registered'):
            print(f'{who}: stream {msg.get_structure().get_string("stream-name")!r} registered')

    for pipeline, who in ((camera, 'camera'), (viewer, 'viewer')):
        bus = pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect('message', on_message, who)

    def give_up():
        print(f'timed out after {args.timeout} s: {done["frames"]} frames, messages '
              f'{done["to_viewer"]!r} / {done["to_camera"]!r}', file=sys.stderr)
        loop.quit()
        return False

    GLib.timeout_add(int(args.timeout * 1000), give_up)
    camera.set_state(Gst.State.PLAYING)
    viewer.set_state(Gst.State.PLAYING)
    loop.run()
    viewer.set_state(Gst.State.NULL)
    camera.set_state(Gst.State.NULL)
    return 0 if done['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
