package org.qoft4j.trainer.dist;

import com.sun.jna.Function;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * A listening TCP socket bound to one loopback address, made with the C library (socket, bind, listen) so that its
 * file descriptor can be handed to c10d's {@code TCPStore} server ({@code TCPStoreOptions.masterListenFd}), which
 * then owns and closes it. Left to itself the TCPStore server binds the port on every interface; a run whose
 * MASTER_ADDR is loopback (one machine) has no reason to be reachable from the network.
 *
 * <p>Linux only (the socket constants below are Linux's); Java's own ServerSocket cannot give up its descriptor.
 */
final class LoopbackListenSocket {
    private static final int AF_INET = 2, AF_INET6 = 10, SOCK_STREAM = 1, SOCK_CLOEXEC = 0x80000;
    private static final int SOL_SOCKET = 1, SO_REUSEADDR = 2, EADDRINUSE = 98, EACCES = 13, BACKLOG = 1024;

    private LoopbackListenSocket() {}

    /**
     * Binds {@code address:port} and listens.
     *
     * @return the socket's file descriptor (close-on-exec, so child processes do not inherit it)
     * @throws PortInUseException when another socket listens on that port
     */
    static int listen(InetAddress address, int port) {
        if (!address.isLoopbackAddress()) throw new IllegalArgumentException(address + " is not a loopback address");
        NativeLibrary c = NativeLibrary.getInstance("c");
        boolean v6 = address instanceof Inet6Address;
        int fd = c.getFunction("socket").invokeInt(new Object[] {v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0});
        if (fd < 0) throw new IllegalStateException("cannot create a TCP socket: errno " + Native.getLastError());
        Function close = c.getFunction("close");
        try {
            // a port left in TIME_WAIT by a previous run may be reused; one with a live listener may not (EADDRINUSE)
            Memory one = new Memory(4);
            one.setInt(0, 1);
            c.getFunction("setsockopt").invokeInt(new Object[] {fd, SOL_SOCKET, SO_REUSEADDR, one, 4});
            Memory addr = sockaddr(address, port);
            if (c.getFunction("bind").invokeInt(new Object[] {fd, addr, (int) addr.size()}) != 0) {
                int errno = Native.getLastError();
                if (errno == EADDRINUSE) throw new PortInUseException(address.getHostAddress(), port);
                throw new IllegalStateException("cannot bind " + address.getHostAddress() + ":" + port + ": errno " + errno
                        + (errno == EACCES ? " (permission denied: ports below 1024 need privileges)" : ""));
            }
            if (c.getFunction("listen").invokeInt(new Object[] {fd, BACKLOG}) != 0)
                throw new IllegalStateException("cannot listen on " + address.getHostAddress() + ":" + port + ": errno " + Native.getLastError());
            return fd;
        } catch (RuntimeException e) {
            close.invokeInt(new Object[] {fd});
            throw e;
        }
    }

    /** struct sockaddr_in / sockaddr_in6 with the port and address in network byte order. */
    private static Memory sockaddr(InetAddress address, int port) {
        byte[] ip = address.getAddress();
        Memory m = new Memory(address instanceof Inet4Address ? 16 : 28);
        m.clear();
        m.setShort(0, (short) (address instanceof Inet4Address ? AF_INET : AF_INET6));  // sa_family, host order
        m.setByte(2, (byte) (port >>> 8));
        m.setByte(3, (byte) port);
        m.write(address instanceof Inet4Address ? 4 : 8, ip, 0, ip.length);  // sin_addr, or sin6_addr after sin6_flowinfo
        return m;
    }

    /** Another socket already listens on the port. */
    static final class PortInUseException extends RuntimeException {
        PortInUseException(String host, int port) {
            super(host + ":" + port + " is already in use");
        }
    }
}
