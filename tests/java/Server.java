// A Java server for the export tests: its keystore and truststore come from
// the javax.net.ssl system properties; it requires a client certificate,
// prints "port N", then serves COUNT connections: a line in, "pong LINE"
// out, or "refused: WHY" when the handshake fails.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.net.InetAddress;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLServerSocketFactory;
import javax.net.ssl.SSLSocket;

public class Server {
    public static void main(String[] args) throws Exception {
        SSLServerSocketFactory factory = (SSLServerSocketFactory) SSLServerSocketFactory.getDefault();
        try (SSLServerSocket server = (SSLServerSocket) factory.createServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            server.setNeedClientAuth(true);
            System.out.println("port " + server.getLocalPort());
            System.out.flush();
            for (int i = 0; i < Integer.parseInt(args[0]); i++) {
                try (SSLSocket socket = (SSLSocket) server.accept()) {
                    socket.setSoTimeout(15000);
                    socket.startHandshake();
                    BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream()));
                    PrintWriter out = new PrintWriter(new OutputStreamWriter(socket.getOutputStream()), true);
                    String line = in.readLine();
                    out.println("pong " + line);
                    System.out.println("served " + socket.getSession().getPeerPrincipal());
                } catch (Exception e) {
                    System.out.println("refused: " + e);
                }
                System.out.flush();
            }
        }
    }
}
