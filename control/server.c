/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/server.h"

struct client {
	int fd;
	bool subscribed;
	bool closing;		/* send what is queued, then close */
	char *in;		/* SERVER_MAX_LINE + 1 */
	size_t inlen;
	char *out;
	size_t outlen;
	size_t outcap;
};

struct server {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	server_handler handler;
	void *arg;
	struct client cl[SERVER_MAX_CLIENTS];
	unsigned int ncl;
	struct jbuf reply;
};

static void
client_free(struct client *c)
{
	close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Queue text; a client that does not read is cut off. */
static void
client_send(struct client *c, const char *s, size_t n)
{
	if (c->closing && c->outlen == 0)
		return;
	if (c->outlen + n > SERVER_MAX_OUT) {
		c->closing = true;
		c->outlen = 0;	/* what it did not read is lost with it */
		return;
	}
	if (c->outlen + n > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		char *b;

		while (cap < c->outlen + n)
			cap *= 2;
		b = realloc(c->out, cap);
		if (b == NULL) {
			c->closing = true;
			return;
		}
		c->out = b;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, s, n);
	c->outlen += n;
}

static void
client_error(struct client *c, const char *msg)
{
	struct jbuf j;
	const char *t;

	jb_init(&j);
	jb_obj(&j, NULL);
	jb_bool(&j, "ok", false);
	jb_str(&j, "error", msg);
	jb_end(&j);
	t = jb_text(&j);
	if (t != NULL) {
		client_send(c, t, strlen(t));
		client_send(c, "\n", 1);
	}
	jb_free(&j);
}

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

struct server *
server_open(const char *path, server_handler h, void *arg, char *errbuf,
	    size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct server *s;
	char dir[sizeof(sa.sun_path)];
	mode_t old;
	int fd, probe;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(errbuf, errlen, "%s: path too long for a unix socket",
			 path);
		return NULL;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0700) != 0 && errno != EEXIST) {
		snprintf(errbuf, errlen, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	/* a socket file that answers belongs to a running gateway */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(probe);
		snprintf(errbuf, errlen, "%s: another ipsecgw is serving this socket",
			 path);
		return NULL;
	}
	if (probe >= 0)
		close(probe);
	unlink(path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(errbuf, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0600) != 0 || listen(fd, 64) != 0 ||
	    set_nonblock(fd) != 0) {
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		umask(old);
		close(fd);
		return NULL;
	}
	umask(old);
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		close(fd);
		unlink(path);
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	s->fd = fd;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->handler = h;
	s->arg = arg;
	jb_init(&s->reply);
	return s;
}

static void
server_accept(struct server *s)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct client *c;
	int fd;

	fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (s->ncl == SERVER_MAX_CLIENTS) {
		/* best effort: the client may not be reading yet */
		const char *m = "{\"ok\": false, \"error\": \"too many clients\"}\n";

		if (write(fd, m, strlen(m)) < 0) {
			/* nothing more to do */
		}
		close(fd);
		return;
	}
	c = &s->cl[s->ncl++];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->in = malloc(SERVER_MAX_LINE + 1);
	if (c->in == NULL) {
		client_free(c);
		s->ncl--;
		return;
	}
	/* root, or whoever runs the gateway */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		client_error(c, "permission denied: only root and the gateway's user may use this socket");
		c->closing = true;
	}
}

/* Cut complete lines out of the input and answer each. */
static void
client_lines(struct server *s, struct client *c)
{
	size_t start = 0, i;
	bool sub;

	for (i = 0; i < c->inlen && !c->closing; i++) {
		const char *t;

		if (c->in[i] != '\n')
			continue;
		c->in[i] = '\0';
		jb_reset(&s->reply);
		sub = false;
		s->handler(s->arg, c->in + start, i - start, &s->reply, &sub);
		t = jb_text(&s->reply);
		if (t == NULL) {
			client_error(c, "out of memory");
		} else {
			client_send(c, t, strlen(t));
			client_send(c, "\n", 1);
		}
		if (sub)
			c->subscribed = true;
		start = i + 1;
	}
	/* the handler saw the keys in the line: do not leave them behind */
	explicit_bzero(c->in, start);
	memmove(c->in, c->in + start, c->inlen - start);
	c->inlen -= start;
	explicit_bzero(c->in + c->inlen, start);
	if (c->inlen == SERVER_MAX_LINE) {
		client_error(c, "request too long (at most 65536 bytes per line)");
		explicit_bzero(c->in, c->inlen);
		c->inlen = 0;
		c->closing = true;
	}
}

/* Returns false when the client is gone. */
static bool
client_io(struct server *s, struct client *c, short revents)
{
	ssize_t n;

	if ((revents & POLLIN) && !c->closing) {
		n = read(c->fd, c->in + c->inlen, SERVER_MAX_LINE - c->inlen);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return false;
		if (n > 0) {
			c->inlen += (size_t)n;
			client_lines(s, c);
		}
	}
	if (c->outlen != 0) {
		n = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return false;
		if (n > 0) {
			memmove(c->out, c->out + n, c->outlen - (size_t)n);
			c->outlen -= (size_t)n;
		}
	}
	if ((revents & (POLLHUP | POLLERR)) && c->outlen == 0)
		return false;
	return !(c->closing && c->outlen == 0);
}

void
server_poll(struct server *s, int timeout_ms)
{
	struct pollfd pfd[SERVER_MAX_CLIENTS + 1];
	unsigned int i, n = s->ncl;

	pfd[0] = (struct pollfd){ .fd = s->fd, .events = POLLIN };
	for (i = 0; i < n; i++)
		pfd[i + 1] = (struct pollfd){ .fd = s->cl[i].fd,
			.events = (short)((s->cl[i].closing ? 0 : POLLIN) |
				  (s->cl[i].outlen ? POLLOUT : 0)) };
	if (poll(pfd, n + 1, timeout_ms) <= 0)
		return;
	/* clients first: accepting may move the array */
	for (i = n; i-- > 0;) {
		if (pfd[i + 1].revents == 0 && s->cl[i].outlen == 0)
			continue;
		if (!client_io(s, &s->cl[i], pfd[i + 1].revents)) {
			client_free(&s->cl[i]);
			s->cl[i] = s->cl[--s->ncl];
		}
	}
	if (pfd[0].revents & POLLIN)
		server_accept(s);
}

void
server_broadcast(struct server *s, const char *line)
{
	unsigned int i;

	for (i = 0; i < s->ncl; i++) {
		if (!s->cl[i].subscribed)
			continue;
		client_send(&s->cl[i], line, strlen(line));
		client_send(&s->cl[i], "\n", 1);
	}
}

void
server_close(struct server *s)
{
	unsigned int i;

	if (s == NULL)
		return;
	for (i = 0; i < s->ncl; i++)
		client_free(&s->cl[i]);
	close(s->fd);
	unlink(s->path);
	jb_free(&s->reply);
	free(s);
}
